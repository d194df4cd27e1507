// Entry point of the sync worker thread. Everything it does lives in ./sync-thread.ts (serveSyncWorker).
import { parentPort, workerData } from 'node:worker_threads';
import { serveSyncWorker } from './sync-thread.ts';
import type { Settings } from '../config/load.ts';

serveSyncWorker(parentPort!, workerData as Settings);
