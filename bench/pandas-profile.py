"""The benchmark's pandas side: the same profile as ours (read_csv + describe + p1..p99 +
nunique + value_counts), timed, with peak RSS; then, untimed, the exact rank of each of our
sketch's quantiles (argv[2]: a JSON file of {column: [q1..q99]}) to measure our rank error."""
import json, resource, sys, time

import numpy as np
import pandas as pd

path, ours_path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
df = pd.read_csv(path)
described = df.describe(include="all")
numeric = df.select_dtypes("number")
quantiles = numeric.quantile([i / 100 for i in range(1, 100)])
distinct = df.nunique()
top = {c: df[c].value_counts().head(10) for c in df.columns}
seconds = time.perf_counter() - t0
max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

with open(ours_path) as f:
    ours = json.load(f)
errors = {}
for column, values in ours.items():
    if column not in numeric.columns:
        continue
    data = np.sort(numeric[column].dropna().to_numpy())
    n = len(data)
    worst = 0.0
    for i, v in enumerate(values):
        q = (i + 1) / 100
        lo = np.searchsorted(data, v, side="left") / n
        hi = np.searchsorted(data, v, side="right") / n
        err = 0.0 if lo <= q <= hi else min(abs(q - lo), abs(q - hi))
        worst = max(worst, err)
    errors[column] = worst
print(json.dumps({"rows": int(len(df)), "seconds": seconds, "maxRssKb": max_rss_kb,
                  "pandas": pd.__version__, "rankErrors": errors}))
