// The wire codec: bytes and AMQP types only, no broker knowledge.
export * from './errors.js';
export * from './cursor.js';
export * from './writer.js';
export * from './fields.js';
export * from './field-tree.js';
export * from './frame-reader.js';
export * from './frames.js';
export * from './content.js';
export * from './generated/constants.js';
export * from './generated/methods.js';
export * from './generated/properties.js';
export * from './content-header-view.js';
export * from './method-peek.js';
