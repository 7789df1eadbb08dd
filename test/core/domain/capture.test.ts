import { describe, expect, it } from 'vitest';
import { CaptureFormatError, parseCapture, parseCaptureLine } from '../../../core/domain/capture';
import { captureLine } from '../../../local/inference/data-capture';

const line = (
  input: { data: string; encoding: string; type?: string },
  output: { data: string; encoding: string; type?: string },
  inferenceTime = '2025-06-03T11:15:00Z',
) =>
  JSON.stringify({
    captureData: {
      endpointInput: {
        observedContentType: input.type ?? 'text/csv',
        mode: 'INPUT',
        data: input.data,
        encoding: input.encoding,
      },
      endpointOutput: {
        observedContentType: output.type ?? 'text/csv; charset=utf-8',
        mode: 'OUTPUT',
        data: output.data,
        encoding: output.encoding,
      },
    },
    eventMetadata: { eventId: 'e-1', inferenceTime },
    eventVersion: '0',
  });

describe('parseCaptureLine', () => {
  it('reads a CSV request of several rows and its CSV predictions', () => {
    const event = parseCaptureLine(
      line({ data: '1,2.5,3\n4,,nan\r\n', encoding: 'CSV' }, { data: '0.25\n0.75', encoding: 'CSV' }),
    );
    expect(event).toEqual({
      eventId: 'e-1',
      inferenceTime: new Date('2025-06-03T11:15:00Z'),
      inputs: [
        ['1', '2.5', '3'],
        ['4', null, null],
      ],
      predictions: [0.25, 0.75],
    });
  });

  it('reads quoted CSV fields with the CSV tokenizer: a quoted comma stays in its field', () => {
    const event = parseCaptureLine(
      line(
        { data: '1,"red, dark",3\n"4","say ""hi""",""\n', encoding: 'CSV' },
        { data: '"0.25"\n0.75', encoding: 'CSV' },
      ),
    );
    expect(event.inputs).toEqual([
      ['1', 'red, dark', '3'],
      ['4', 'say "hi"', null],
    ]);
    expect(event.predictions).toEqual([0.25, 0.75]);
  });

  it('refuses a malformed CSV payload, naming the payload and the line', () => {
    expect(() =>
      parseCaptureLine(line({ data: '1,2\n3,"open', encoding: 'CSV' }, { data: '1', encoding: 'CSV' })),
    ).toThrow(/^endpointInput: line 2: a quoted field is not closed/);
  });

  it('reads JSON instances (rows, {features}, objects by feature name) and JSON predictions', () => {
    const json = (data: unknown) => ({
      data: JSON.stringify(data),
      encoding: 'JSON',
      type: 'application/json',
    });
    expect(
      parseCaptureLine(
        line(
          json({
            instances: [
              [1, 2],
              [3, null],
            ],
          }),
          json({ predictions: [0.1, 0.9] }),
        ),
      ),
    ).toMatchObject({
      inputs: [
        ['1', '2'],
        ['3', null],
      ],
      predictions: [0.1, 0.9],
    });
    expect(
      parseCaptureLine(
        line(json({ instances: [{ features: [5, 6] }] }), json({ predictions: [{ score: 0.3 }] })),
      ),
    ).toMatchObject({ inputs: [['5', '6']], predictions: [0.3] });
    expect(
      parseCaptureLine(line(json({ instances: [{ b: 2, a: 1 }] }), json([{ predicted_label: 1 }])), {
        featureNames: ['a', 'b'],
      }),
    ).toMatchObject({ inputs: [['1', '2']], predictions: [1] });
    expect(parseCaptureLine(line(json([7, 8]), json([[0.1, 0.7, 0.2]])))).toMatchObject({
      inputs: [['7', '8']],
      predictions: [1], // a class-probability vector: its argmax
    });
  });

  it('decodes BASE64 payloads by their observed content type', () => {
    const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
    expect(
      parseCaptureLine(
        line(
          { data: b64('1,2\n3,4\n'), encoding: 'BASE64', type: 'text/csv' },
          { data: b64('{"predictions":[0.5,0.6]}'), encoding: 'BASE64', type: 'application/json' },
        ),
      ),
    ).toMatchObject({
      inputs: [
        ['1', '2'],
        ['3', '4'],
      ],
      predictions: [0.5, 0.6],
    });
    // Unknown content type: read as JSON when it looks like JSON.
    expect(
      parseCaptureLine(
        line(
          { data: b64('{"instances":[[9,9]]}'), encoding: 'BASE64', type: 'application/octet-stream' },
          { data: b64('0.4'), encoding: 'BASE64', type: 'application/octet-stream' },
        ),
      ),
    ).toMatchObject({ inputs: [['9', '9']], predictions: [0.4] });
  });

  it('reads what the local data capture writes', () => {
    const written = captureLine(
      {
        at: new Date('2025-06-03T11:15:42.123Z'),
        requestContentType: 'text/csv',
        requestBody: Buffer.from('1,2,3\n4,5,6'),
        responseContentType: 'application/json',
        responseBody: Buffer.from('{"predictions":[0.2,0.8]}'),
      },
      { csv: ['text/csv'], json: ['application/json'] },
      'id-1',
    );
    expect(parseCaptureLine(JSON.stringify(written))).toEqual({
      eventId: 'id-1',
      inferenceTime: new Date('2025-06-03T11:15:42Z'),
      inputs: [
        ['1', '2', '3'],
        ['4', '5', '6'],
      ],
      predictions: [0.2, 0.8],
    });
  });

  it.each([
    ['not JSON', '{"captureData":', /not JSON/],
    ['no captureData', '{"eventVersion":"0"}', /no captureData/],
    [
      'an unknown encoding',
      line({ data: '1', encoding: 'GZIP' }, { data: '1', encoding: 'CSV' }),
      /encoding "GZIP"/,
    ],
    ['bad base64', line({ data: '!!!', encoding: 'BASE64' }, { data: '1', encoding: 'CSV' }), /not base64/],
    [
      'a non-numeric prediction',
      line({ data: '1', encoding: 'CSV' }, { data: 'yes', encoding: 'CSV' }),
      /not numeric/,
    ],
    [
      'invalid JSON input',
      line({ data: '{nope', encoding: 'JSON' }, { data: '1', encoding: 'CSV' }),
      /not valid JSON/,
    ],
    [
      'a bad inference time',
      line({ data: '1', encoding: 'CSV' }, { data: '1', encoding: 'CSV' }, 'yesterday'),
      /not a time/,
    ],
  ])('refuses %s with a CaptureFormatError', (_what, text, message) => {
    expect(() => parseCaptureLine(text)).toThrow(CaptureFormatError);
    expect(() => parseCaptureLine(text)).toThrow(message);
  });
});

describe('parseCapture', () => {
  it('counts and skips malformed lines, ignores blank ones, never throws', () => {
    const good = line({ data: '1,2', encoding: 'CSV' }, { data: '0.5', encoding: 'CSV' });
    const text = [good, '', 'garbage', good, '{"captureData":{}}', '\u0000\u0001', good, ''].join('\n');
    const parsed = parseCapture(text);
    expect(parsed.events).toHaveLength(3);
    expect(parsed.malformed).toBe(3);
    expect(parsed.problems).toEqual([
      expect.stringMatching(/^line 3: not JSON/),
      expect.stringMatching(/^line 5: captureData has neither/),
      expect.stringMatching(/^line 6: not JSON/),
    ]);
  });

  it('keeps at most maxProblems reasons', () => {
    const parsed = parseCapture(['x', 'y', 'z'].join('\n'), { maxProblems: 1 });
    expect(parsed.malformed).toBe(3);
    expect(parsed.problems).toHaveLength(1);
  });
});
