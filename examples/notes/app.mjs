// A tiny notes app, one copy per customer: tenement gives it PORT and DATA_DIR.
//   GET /        -> the notes, as text
//   POST /       -> appends the request body as a note
//   GET /health  -> 200
import { createServer } from 'node:http';
import { readFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';

const port = Number(process.env.PORT);
const file = join(process.env.DATA_DIR, 'notes.txt');
const who = process.env.TENEMENT_INSTANCE;

createServer(async (req, res) => {
  if (req.url === '/health') return res.end('ok\n');
  if (req.method === 'POST') {
    let body = '';
    for await (const chunk of req) body += chunk;
    await appendFile(file, `${body.trim()}\n`);
    res.writeHead(201, { 'content-type': 'text/plain' });
    return res.end('saved\n');
  }
  const notes = await readFile(file, 'utf8').catch(() => '');
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`notes of ${who}:\n${notes || '(none yet: POST some text to add one)\n'}`);
}).listen(port, '127.0.0.1', () => console.log(`notes for ${who} listening on ${port}`));
