/**
 * Node's built-in modules for the code on the hook's path (cli/main → hook or enqueue → config →
 * store), which runs once per coding-agent event. An ESM `import … from 'node:fs'` builds a
 * namespace of every export, which runs lazy getters such as `fs.promises`: 3–4 ms each for fs and
 * util. `process.getBuiltinModule` returns the module object as it is. (node:crypto is avoided on
 * that path altogether: loading it costs 5 ms.) Code off that path imports as usual.
 */
export const fs = process.getBuiltinModule('node:fs');
export const util = process.getBuiltinModule('node:util');
export const os = process.getBuiltinModule('node:os');
