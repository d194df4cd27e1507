// Entry point of the sync worker thread. Everything it does lives in ./serve.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { serveSyncWorker } from './serve.ts';
import type { Settings } from '../config/load.ts';

serveSyncWorker(parentPort!, workerData as Settings);
