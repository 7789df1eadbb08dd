const t = Date.now();
const m = await import('/work/main/lib/constructs/lifecycle-handlers');
console.log(Object.keys(m), Date.now() - t);
