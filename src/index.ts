// Warren's public, embeddable API.
export { Broker } from './warren.js';
export type { BrokerOptions, UserDefinition } from './config.js';
export { VERSION } from './version.js';
