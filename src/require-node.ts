/** Imported first by the library entry point: refuses an old Node before better-sqlite3 loads. */
import { nodeProblem } from './node-guard.ts';

const problem = nodeProblem();
if (problem) throw new Error(problem);
