// Registers aws-sdk-client-mock matchers (toHaveReceivedCommandWith, ...) for every test file.
import { expect } from 'vitest';
import 'aws-sdk-client-mock-vitest/extend';
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest';

expect.extend(allCustomMatcher);
