// Warren's public, embeddable API.
export { Broker, type QueueInfo, type ExchangeInfo, type BindingInfo } from './warren.js';
export type { PeekedMessage } from './broker/snapshots.js';
export type { ConnectionInfo } from './server/connection-info.js';
export type { UrlOptions } from './testing/url.js';
export type { IdleOptions } from './testing/when-idle.js';
export type { BasicProperties, FieldTable, FieldValue } from './protocol/index.js';
export type { BrokerOptions, UserDefinition } from './config.js';
export type { LogFileIo } from './store/log-io.js';
export { VERSION } from './version.js';
