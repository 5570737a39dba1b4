// Differential fuzzing of the proxy's request and response head parsers against Node's llhttp, on
// the same bytes. Ours may refuse what llhttp accepts; it must never accept what llhttp refuses,
// nor read a different method, target, status, body length or chunking. A fixed-seed run of a few
// thousand cases runs with the tests; `npm run fuzz` runs many more (FUZZ_CASES, FUZZ_SEED).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CaseGenerator, prng } from '../../test/helpers/http-fuzz-cases.js';
import { RequestOracle, ResponseOracle } from '../../test/helpers/llhttp-oracle.js';
import type { OracleRequest, OracleResponse } from '../../test/helpers/llhttp-oracle.js';
import { ChunkedDecoder } from './chunked.js';
import { findHeadEnd, parseRequestHead, skipEmptyLines } from './request-head.js';
import { hasNoBody, parseResponseHead } from './response-head.js';

const CASES = Number(process.env.FUZZ_CASES ?? 2500);
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const PARALLEL = 32;

/** The body after a head as the proxy would read it: complete, refused, or waiting for more bytes. */
type Body = { state: 'complete'; bytes: Buffer } | { state: 'refused' | 'incomplete' };

function readBody(rest: Buffer, isChunked: boolean, contentLength: number, untilClose: boolean): Body {
  if (isChunked) {
    const parts: Buffer[] = [];
    const decoder = new ChunkedDecoder({ onChunkData: (d) => parts.push(Buffer.from(d)) });
    if (decoder.feed(rest, 0, rest.length) < 0) return { state: 'refused' };
    return decoder.isDone ? { state: 'complete', bytes: Buffer.concat(parts) } : { state: 'incomplete' };
  }
  if (contentLength >= 0) return rest.length >= contentLength ? { state: 'complete', bytes: rest.subarray(0, contentLength) } : { state: 'incomplete' };
  return { state: 'complete', bytes: untilClose ? rest : Buffer.alloc(0) };
}

/** Why our reading of a request disagrees with llhttp's, or null. */
function compareRequest(bytes: Buffer, theirs: OracleRequest): string | null {
  const start = skipEmptyLines(bytes, 0);
  const end = findHeadEnd(bytes, start);
  if (end < 0) return null;
  const ours = parseRequestHead(bytes, start, end);
  // The front answers an expectation it cannot meet with 417 and forwards nothing.
  if (typeof ours === 'number' || ours.hasUnknownExpectation) return null;
  if (theirs.kind === 'refused') return 'we accept a head llhttp refuses';
  if (theirs.method !== ours.method || theirs.url !== ours.target) return `method/target ${ours.method} ${ours.target} vs ${theirs.method} ${theirs.url}`;
  if (theirs.kind === 'upgrade') return null;
  if (ours.isChunked !== (theirs.transferEncoding !== undefined)) return `chunked ${ours.isChunked} vs Transfer-Encoding ${theirs.transferEncoding}`;
  const theirLength = theirs.contentLength === undefined ? -1 : Number(theirs.contentLength);
  if (!ours.isChunked && ours.contentLength !== theirLength) return `Content-Length ${ours.contentLength} vs ${theirs.contentLength}`;
  const body = readBody(bytes.subarray(end), ours.isChunked, ours.contentLength, false);
  if (body.state !== 'complete') return null;
  if (!theirs.complete) return 'we read a complete body where llhttp did not';
  if (!body.bytes.equals(theirs.body)) return `body ${JSON.stringify(body.bytes.toString('latin1'))} vs ${JSON.stringify(theirs.body.toString('latin1'))}`;
  return null;
}

/** Why our reading of a response (to a GET) disagrees with llhttp's, or null. */
function compareResponse(bytes: Buffer, theirs: OracleResponse): string | null {
  const at = bytes.indexOf('\r\n\r\n');
  if (at < 0) return null;
  const ours = parseResponseHead(bytes, 0, at + 4);
  // Interim answers are skipped by both sides; what follows is another head.
  if (typeof ours === 'string' || ours.status < 200) return null;
  if (theirs.kind === 'refused') return 'we accept a head llhttp refuses';
  if (ours.status !== theirs.status) return `status ${ours.status} vs ${theirs.status}`;
  const noBody = hasNoBody(ours.status);
  const body = readBody(bytes.subarray(at + 4), !noBody && ours.isChunked, noBody ? 0 : ours.contentLength, !noBody);
  if (body.state !== 'complete') return null;
  if (!theirs.complete) return 'we read a complete body where llhttp did not';
  if (!body.bytes.equals(theirs.body)) return `body ${JSON.stringify(body.bytes.toString('latin1'))} vs ${JSON.stringify(theirs.body.toString('latin1'))}`;
  return null;
}

interface Tally { cases: number; weAccept: number; llhttpAccepts: number; findings: string[] }

async function run<T>(make: () => Buffer, oracle: (b: Buffer) => Promise<T>, compare: (b: Buffer, r: T) => string | null, accepted: (b: Buffer) => boolean, isTheirs: (r: T) => boolean): Promise<Tally> {
  const tally: Tally = { cases: 0, weAccept: 0, llhttpAccepts: 0, findings: [] };
  for (let done = 0; done < CASES; done += PARALLEL) {
    const batch = Array.from({ length: Math.min(PARALLEL, CASES - done) }, make);
    const results = await Promise.all(batch.map(oracle));
    batch.forEach((bytes, i) => {
      tally.cases++;
      if (accepted(bytes)) tally.weAccept++;
      if (isTheirs(results[i]!)) tally.llhttpAccepts++;
      const why = compare(bytes, results[i]!);
      if (why !== null && tally.findings.length < 20) tally.findings.push(`${why}: ${JSON.stringify(bytes.toString('latin1'))}`);
    });
  }
  return tally;
}

test(`request heads: ours never accepts what llhttp refuses, nor reads them differently (${CASES} cases, seed ${SEED})`, async (t) => {
  const oracle = await RequestOracle.start();
  t.after(() => oracle.close());
  const gen = new CaseGenerator(prng(SEED));
  const tally = await run(() => gen.request(), (b) => oracle.parse(b), compareRequest, (b) => {
    const start = skipEmptyLines(b, 0);
    const end = findHeadEnd(b, start);
    const head = end > 0 ? parseRequestHead(b, start, end) : 400;
    return typeof head === 'object' && !head.hasUnknownExpectation;
  }, (r) => r.kind !== 'refused');
  t.diagnostic(`${tally.cases} cases: ours accepted ${tally.weAccept}, llhttp ${tally.llhttpAccepts}; findings ${tally.findings.length}`);
  assert.deepEqual(tally.findings, []);
  // Not vacuous: a good share of the cases are valid requests both read.
  assert.ok(tally.weAccept > tally.cases / 4, `only ${tally.weAccept} of ${tally.cases} accepted`);
});

test(`response heads: ours never accepts what llhttp refuses, nor reads them differently (${CASES} cases, seed ${SEED})`, async (t) => {
  const oracle = await ResponseOracle.start();
  t.after(() => oracle.close());
  const gen = new CaseGenerator(prng(SEED + 1));
  const tally = await run(() => gen.response(), (b) => oracle.parse(b), compareResponse, (b) => {
    const at = b.indexOf('\r\n\r\n');
    return at > 0 && typeof parseResponseHead(b, 0, at + 4) === 'object';
  }, (r) => r.kind !== 'refused');
  t.diagnostic(`${tally.cases} cases: ours accepted ${tally.weAccept}, llhttp ${tally.llhttpAccepts}; findings ${tally.findings.length}`);
  assert.deepEqual(tally.findings, []);
  assert.ok(tally.weAccept > tally.cases / 4, `only ${tally.weAccept} of ${tally.cases} accepted`);
});
