// The subset of buffer-layout's API that the codec uses (the package ships no types).
declare module 'buffer-layout' {
  export class Layout<T = unknown> {
    readonly span: number;
    readonly property?: string;
    decode(b: Uint8Array, offset?: number): T;
    encode(src: T, b: Uint8Array, offset?: number): number;
  }
  export class Structure<T = Record<string, unknown>> extends Layout<T> {}
  export class BitStructure<T = Record<string, unknown>> extends Layout<T> {
    addBoolean(property: string): unknown;
  }
  const layout: {
    u8(property?: string): Layout<number>;
    u16be(property?: string): Layout<number>;
    u32be(property?: string): Layout<number>;
    nu64be(property?: string): Layout<number>;
    struct<T = Record<string, unknown>>(fields: Layout<unknown>[], property?: string): Structure<T>;
    bits<T = Record<string, unknown>>(word: Layout<number>, msb?: boolean, property?: string): BitStructure<T>;
  };
  export default layout;
}
