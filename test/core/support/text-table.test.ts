import { describe, expect, it } from 'vitest';
import { formatTable } from '../../../core/support/text-table';

describe('formatTable', () => {
  it('aligns columns two spaces apart under a dashed header, trailing spaces trimmed', () => {
    expect(
      formatTable(
        [
          ['x', 'numeric', ''],
          ['city', 'categorical', 'DRIFT'],
        ],
        { header: ['column', 'kind', 'note'] },
      ),
    ).toBe(
      [
        'column  kind         note',
        '------  -----------  -----',
        'x       numeric',
        'city    categorical  DRIFT',
      ].join('\n'),
    );
  });

  it('prints rows alone, indented, and treats a missing cell as empty', () => {
    expect(
      formatTable([['profile', 'profiles a file'], ['dlq', 'dead letters'], ['x']], { indent: '  ' }),
    ).toBe(['  profile  profiles a file', '  dlq      dead letters', '  x'].join('\n'));
  });

  it('prints a header over no rows', () => {
    expect(formatTable([], { header: ['a', 'bb'] })).toBe('a  bb\n-  --');
  });
});
