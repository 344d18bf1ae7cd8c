#!/usr/bin/env node
// A plain process for the demo: an HTTP server that knows nothing of HA (no SDK). Its LCA starts it
// as backup (HA_ROLE) and keeps its role; the role is advisory for such applications.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
const id = process.env.HA_APP_ID ?? 'app';
createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ app: id, pid: process.pid, startedAs: process.env.HA_ROLE ?? 'backup' }) + '\n');
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
