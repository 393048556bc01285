export * from "./leaf.ts";
export * from "./merkle.ts";
export * from "./tree_store.ts";
