import { proveScenarios } from '../test/support/prove.ts';

// Every other scenario of the catalog (the other half: verify-1.test.ts).
proveScenarios({ of: 2, index: 1 });
