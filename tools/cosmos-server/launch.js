#!/usr/bin/env node
/*
 * Local Cosmos DB (NoSQL API) compatible test server.
 *
 * Usage: node tools/cosmos-server/launch.js [PORT]     (PORT 0 or absent = any free port)
 *
 * Starts @vercel/cosmosdb-server 1.0.1 (pinned in package.json: this file patches its
 * internals, so re-check every workaround below before bumping it) on 127.0.0.1 over
 * HTTPS with its bundled self-signed certificate (clients need connection_verify=False),
 * accepting any key, keeping all data in memory. Once listening it prints exactly one
 * line to stdout, `{"port": N}`, and nothing else on stdout; logs go to stderr.
 * SIGTERM / SIGINT close it and exit 0 (so does EOF on stdin if COSMOS_SERVER_EXIT_ON_STDIN_EOF
 * is set). COSMOS_SERVER_LOG=1 logs one line per request to stderr.
 *
 * The library's own CLI is not used (see "WORKAROUND (keep-alive)"). Everything that makes it
 * behave like real Cosmos DB for the azure-cosmos Python SDK (4.17.1) lives here, as wrappers
 * around the library's route handlers; each one is marked "WORKAROUND (...)" and is covered by
 * tests/cosmos/test_local_server.py.
 *
 * Known gaps (not fixed): no OFFSET..LIMIT in queries (400; use TOP or continuation tokens),
 * no TTL expiry (left out on purpose: the library hides expired heads itself, and its tests
 * check that), no change feed, no session tokens, x-ms-request-charge is always 1, no If-None-Match
 * on point reads, no check that an item's partition key matches the request's header.
 */
"use strict";

const path = require("path");

const LIB = path.join(__dirname, "node_modules", "@vercel", "cosmosdb-server", "lib");
const lib = (name) => require(path.join(LIB, name));

const jsonModule = lib("json");
const routesModule = lib("routes");
const documentOperations = lib("handler/_document-operations");
const { patchOperation } = lib("handler/_patch-operations");
const { parsePartitionKey } = lib("utils/get-partition-from-header");
const { createHttpsServer } = lib("index");

const Items = lib("account/items").default;

const handlers = {
  queryDocuments: lib("handler/query-documents").default,
  readDocument: lib("handler/read-document").default,
  createDocument: lib("handler/create-document").default,
  upsertDocument: lib("handler/upsert-document").default,
  replaceDocument: lib("handler/replace-document").default,
  patchDocument: lib("handler/patch-document").default,
  batchDocuments: lib("handler/batch-documents").default,
};

/* Real Cosmos DB limits we emulate. */
const MAX_ITEM_BYTES = Number(process.env.COSMOS_SERVER_MAX_ITEM_BYTES || 2 * 1024 * 1024);
const MAX_BATCH_OPERATIONS = 100;
const MAX_BATCH_REQUEST_BYTES = 2 * 1024 * 1024;
const TOO_LARGE = { code: "RequestEntityTooLarge", message: "Request size is too large" };
const NOT_FOUND = {
  code: "NotFound",
  message: "Entity with the specified id does not exist in the system.",
};
const PRECONDITION_FAILED = {
  code: "PreconditionFailed",
  message: "Operation cannot be performed because one of the specified precondition is not met.",
};
const KEEP_ALIVE_MS = 120 * 1000;

const CONNECTION_HEADER = "x-local-cosmos-connection";
const CONNECTION_ID = Symbol("connectionId");
const LOG_REQUESTS = Boolean(process.env.COSMOS_SERVER_LOG);

const NOT_FOUND_MESSAGE = NOT_FOUND.message;
const PRECONDITION_MESSAGE = PRECONDITION_FAILED.message;

function error(res, statusCode, code, message) {
  res.statusCode = statusCode;
  return { code, message };
}

function notFound(res) {
  return error(res, 404, "NotFound", NOT_FOUND_MESSAGE);
}

function byteLength(value) {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

function tooLarge(res) {
  return error(res, 413, "RequestEntityTooLarge", "Request size is too large");
}

/*
 * The library's handlers read the body with `json.default(req)`. A wrapper that has already
 * read (and possibly rewritten) the body stores it on the request so the library reuses it.
 */
const PARSED_BODY = Symbol("parsedBody");
const originalJson = jsonModule.default;
jsonModule.default = async (req) =>
  req[PARSED_BODY] !== undefined ? req[PARSED_BODY] : originalJson(req);

async function readBody(req) {
  if (req[PARSED_BODY] === undefined) {
    req[PARSED_BODY] = await originalJson(req);
  }
  return req[PARSED_BODY];
}

function collectionOf(account, { dbId, collId }) {
  const collection = account.database(dbId).collection(collId);
  return collection.read() ? collection : null;
}

function rawPartitionKeyHeader(req) {
  const header = req.headers["x-ms-documentdb-partitionkey"];
  return Array.isArray(header) ? header[0] : header;
}

/* Partition key value from the x-ms-documentdb-partitionkey header (`["value"]`). */
function headerPartitionKey(req, id) {
  return parsePartitionKey(rawPartitionKeyHeader(req), id);
}

function existingDocument(collection, id, partitionKey) {
  return collection.document(id, partitionKey).read() || null;
}

/*
 * Puts a document back exactly as it was (same _etag/_rid/_ts), or removes it if it did not
 * exist. Used to roll back a failed transactional batch and an oversized patch.
 */
function restoreDocument(collection, id, partitionKey, previous) {
  if (existingDocument(collection, id, partitionKey)) {
    collection.documents.delete(id, partitionKey);
  }
  if (previous) {
    collection.documents._set(previous);
  }
}

/*
 * WORKAROUND (point read of a missing item): the library's read handler dereferences the
 * missing document (`data[path]` on undefined) and throws a TypeError, which it turns into a
 * 500; the Python SDK then retries the 500 several times before failing, instead of raising
 * CosmosResourceNotFoundError at once. Answer 404 NotFound like real Cosmos before it gets there.
 */
async function readDocument(account, req, res, params) {
  const collection = collectionOf(account, params);
  if (!collection) return notFound(res);
  try {
    headerPartitionKey(req, params.docId);
  } catch (err) {
    return error(res, 400, "BadRequest", err.message);
  }
  // Looked up by (partition, id) directly: the library's handler also re-checks the partition
  // with `doc[path]`, which would be wrong for nested partition key paths (/a/b).
  const result = documentOperations.readOperation(collection, {
    partitionKey: rawPartitionKeyHeader(req),
    id: params.docId,
  });
  if (result.statusCode !== 200) return notFound(res);
  res.statusCode = 200;
  return result.body;
}

/*
 * WORKAROUND (create in a missing container): the library throws while building the new
 * item's _rid and answers 500; real Cosmos answers 404. (The SDK usually notices earlier, when
 * it reads the container's properties.) Also enforces the 2 MB item size limit (413).
 */
async function createDocument(account, req, res, params) {
  const body = await readBody(req);
  if (!collectionOf(account, params)) return notFound(res);
  if (byteLength(body) > MAX_ITEM_BYTES) return tooLarge(res);
  return handlers.createDocument(account, req, res, params);
}

/* WORKAROUND (item size): the library has no 2 MB item limit; real Cosmos answers 413. */
function sizeLimited(handler) {
  return async (account, req, res, params) => {
    const body = await readBody(req);
    if (byteLength(body) > MAX_ITEM_BYTES) return tooLarge(res);
    return handler(account, req, res, params);
  };
}

/*
 * WORKAROUND (conditional patch): the library lower-cases the whole `condition`
 * (filter_predicate) before running it, so any upper-case letter in a property name or a
 * string literal (`c.messageIds`, 'M_1') silently changes its meaning; it also ignores the
 * partition key and hides query errors behind a generic 400. We evaluate the predicate
 * ourselves, case preserved, against the one targeted document, in real Cosmos' order:
 * 404 (missing item) -> 412 (if-match) -> 412 (predicate false) -> apply operations.
 * Also: a patch whose result exceeds the 2 MB item limit is rolled back and answers 413.
 */
async function patchDocument(account, req, res, params) {
  const body = await readBody(req);
  const collection = collectionOf(account, params);
  if (!collection) return notFound(res);
  let partitionKey;
  try {
    partitionKey = headerPartitionKey(req, params.docId);
  } catch (err) {
    return error(res, 400, "BadRequest", err.message);
  }
  const previous = existingDocument(collection, params.docId, partitionKey);
  if (!previous) return notFound(res);
  const ifMatch = req.headers["if-match"];
  if (ifMatch && ifMatch !== previous._etag) {
    return error(res, 412, "PreconditionFailed", PRECONDITION_MESSAGE);
  }
  if (body && !Array.isArray(body) && typeof body.condition === "string") {
    const outcome = evaluateCondition(collection, previous, body.condition);
    if (outcome.error) return error(res, 400, "BadRequest", outcome.error);
    if (!outcome.matched) {
      return error(res, 412, "PreconditionFailed", PRECONDITION_MESSAGE);
    }
    req[PARSED_BODY] = { operations: body.operations };
  }
  const result = await handlers.patchDocument(account, req, res, params);
  if (res.statusCode < 300 && result && byteLength(result) > MAX_ITEM_BYTES) {
    restoreDocument(collection, params.docId, partitionKey, previous);
    return tooLarge(res);
  }
  return result;
}

/*
 * Runs `FROM <alias> WHERE <predicate>` against the single document `doc`, case preserved.
 * Returns {matched: boolean} or {error: string}.
 */
function evaluateCondition(collection, doc, condition) {
  const match = /^\s*from\s+([A-Za-z_][A-Za-z0-9_]*)\s+where\s+([\s\S]+)$/i.exec(condition);
  if (!match) {
    return { error: `Invalid filter predicate (expected "FROM c WHERE ..."): ${condition}` };
  }
  const [, alias, rawPredicate] = match;
  const { predicate, parameters } = parameterizeStrings(rawPredicate);
  const sql = `SELECT VALUE 1 FROM ${alias} WHERE ${alias}._rid = @__rid AND (${predicate})`;
  try {
    const query = collection.documents._getQuery(sql);
    const result = query.exec([doc], {
      parameters: [{ name: "@__rid", value: doc._rid }, ...parameters],
    });
    return { matched: result.result.length > 0 };
  } catch (err) {
    return { error: `Invalid filter predicate: ${err.message}` };
  }
}

/*
 * Compiling a query costs this library ~30-50 ms (it caches the last 100 by SQL text), and
 * predicates typically differ only by a string literal ('m_1', 'm_2', ...): turn plain string
 * literals into parameters so that one compiled query serves them all. Literals with escapes,
 * used as `c["prop"]` property names, or used as object-literal keys (`{"id": 'm_1'}`) are
 * left as they are.
 */
function parameterizeStrings(text) {
  const parameters = [];
  const predicate = text.replace(
    /(\[\s*)?(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g,
    (whole, bracket, single, double, offset, all) => {
      const value = single !== undefined ? single : double;
      const isObjectKey = /^\s*:/.test(all.slice(offset + whole.length));
      if (bracket || isObjectKey || value.includes("\\")) return whole;
      const name = `@__s${parameters.length}`;
      parameters.push({ name, value });
      return name;
    }
  );
  return { predicate, parameters };
}

/*
 * WORKAROUND (transactional batch), replaces the library's batch handler:
 *  - the Python SDK sends the partition key only in the x-ms-documentdb-partitionkey header,
 *    not in each operation; the library needs it per operation and throws (500) on
 *    Upsert/Read/Delete/Replace without it. We inject the header's value into each operation
 *    that lacks one;
 *  - the library does not support Patch operations in a batch (400): we run them with the
 *    same code as a single patch (filter predicate included, evaluated like above);
 *  - the library is not atomic: operations before a failing one stay applied. We roll them
 *    back, like real Cosmos;
 *  - it ignores a Read operation's ifNoneMatch: a matching etag now answers 304;
 *  - a failed batch answers HTTP 207 (Multi-Status) like real Cosmos, with the failing
 *    operation's status and 424 for the others; a successful one answers 200;
 *  - more than 100 operations -> 400, as in real Cosmos;
 *  - a request body over 2 MB -> 413, as in real Cosmos (the library has no batch size limit,
 *    so a client that packs too much into one batch would pass here and fail in Azure).
 */
async function batchDocuments(account, req, res, params) {
  const body = await readBody(req);
  const collection = collectionOf(account, params);
  if (!collection) return notFound(res);
  if (!Array.isArray(body)) {
    return error(res, 400, "BadRequest", "Invalid batch request body");
  }
  if (body.length > MAX_BATCH_OPERATIONS) {
    const message = "Batch request has more operations than what is supported.";
    return error(res, 400, "BadRequest", message);
  }
  if (byteLength(body) > MAX_BATCH_REQUEST_BYTES) return tooLarge(res);
  const headerKey = rawPartitionKeyHeader(req);
  const snapshots = new Map();
  const remember = (id, partitionKey) => {
    const key = JSON.stringify([partitionKey, id]);
    if (!snapshots.has(key)) {
      const previous = existingDocument(collection, id, partitionKey);
      snapshots.set(key, { id, partitionKey, previous });
    }
  };
  const results = [];
  let failedAt = -1;
  for (let i = 0; i < body.length; i += 1) {
    const operation = { ...(body[i] || {}) };
    if (operation.partitionKey === undefined && headerKey !== undefined) {
      operation.partitionKey = headerKey;
    }
    let result;
    try {
      result = runBatchOperation(collection, operation, remember);
    } catch (err) {
      result = { statusCode: 400, body: { code: "BadRequest", message: err.message } };
    }
    results.push(result);
    if (result.statusCode >= 400) {
      failedAt = i;
      break;
    }
  }
  if (failedAt < 0) {
    res.statusCode = 200;
    return results.map((result) => ({
      statusCode: result.statusCode,
      requestCharge: 1,
      eTag: result.body && result.body._etag ? result.body._etag : undefined,
      resourceBody: result.body,
    }));
  }
  for (const { id, partitionKey, previous } of [...snapshots.values()].reverse()) {
    restoreDocument(collection, id, partitionKey, previous);
  }
  res.statusCode = 207;
  return body.map((_, i) =>
    i === failedAt
      ? { statusCode: results[i].statusCode, requestCharge: 0, ...errorFields(results[i].body) }
      : { statusCode: 424, requestCharge: 0 }
  );
}

function errorFields(body) {
  return body && body.message ? { message: body.message } : {};
}

function runBatchOperation(collection, operation, remember) {
  const id = operation.id || (operation.resourceBody && operation.resourceBody.id);
  const partitionKey = parsePartitionKey(operation.partitionKey, id);
  if (operation.resourceBody && byteLength(operation.resourceBody) > MAX_ITEM_BYTES) {
    return { statusCode: 413, body: { ...TOO_LARGE } };
  }
  switch (operation.operationType) {
    case "Create":
      remember(id, partitionKey);
      return documentOperations.createOperation(collection, operation);
    case "Upsert":
      remember(id, partitionKey);
      return documentOperations.upsertOperation(collection, operation);
    case "Replace":
      remember(id, partitionKey);
      return documentOperations.replaceOperation(collection, operation);
    case "Delete":
      remember(id, partitionKey);
      return documentOperations.deleteOperation(collection, operation);
    case "Read": {
      const result = documentOperations.readOperation(collection, operation);
      const etag = (result.body || {})._etag;
      const notModified = operation.ifNoneMatch && operation.ifNoneMatch === etag;
      if (result.statusCode === 200 && notModified) {
        return { statusCode: 304, body: undefined };
      }
      return result;
    }
    case "Patch": {
      const doc = existingDocument(collection, id, partitionKey);
      if (!doc) return { statusCode: 404, body: { ...NOT_FOUND } };
      if (operation.ifMatch && operation.ifMatch !== doc._etag) {
        return { statusCode: 412, body: { ...PRECONDITION_FAILED } };
      }
      const spec = operation.resourceBody || {};
      if (typeof spec.condition === "string") {
        const outcome = evaluateCondition(collection, doc, spec.condition);
        if (outcome.error) {
          return { statusCode: 400, body: { code: "BadRequest", message: outcome.error } };
        }
        if (!outcome.matched) {
          return { statusCode: 412, body: { ...PRECONDITION_FAILED } };
        }
      }
      remember(id, partitionKey);
      const result = patchOperation(collection, {
        id,
        partitionKey: operation.partitionKey,
        operations: spec.operations || [],
      });
      if (result.statusCode < 300 && byteLength(result.body) > MAX_ITEM_BYTES) {
        return { statusCode: 413, body: { ...TOO_LARGE } };
      }
      return result;
    }
    default:
      return {
        statusCode: 400,
        body: {
          code: "BadRequest",
          message: `Operation type '${operation.operationType}' is not supported in Batch.`,
        },
      };
  }
}

/*
 * WORKAROUND (partition-scoped queries): the library ignores the x-ms-documentdb-partitionkey
 * header on queries (except to reject some that don't name the partition key, see below) and
 * runs them over every partition, so
 * `query_items(..., partition_key="c1")` also returns other customers' items. Real Cosmos only
 * looks at that partition. The query handler passes our (pre-parsed) body to
 * `documents.query(body, ...)`; we tag the body with the partition and make `Items#query` run
 * over that partition's items only (synchronously, so no other request sees the swap).
 */
const PARTITION_SCOPE = Symbol("partitionScope");
const originalQuery = Items.prototype.query;
Items.prototype.query = function query(params, options) {
  if (!params || params[PARTITION_SCOPE] === undefined) {
    return originalQuery.call(this, params, options);
  }
  const scope = JSON.stringify(params[PARTITION_SCOPE]);
  const all = this._data;
  this._data = new Map(
    [...all].filter(([, item]) => JSON.stringify(this._getPartition(item.read())) === scope)
  );
  try {
    return originalQuery.call(this, params, options);
  } finally {
    this._data = all;
  }
};

async function queryDocuments(account, req, res, params) {
  const body = await readBody(req);
  if (rawPartitionKeyHeader(req) !== undefined && body && typeof body === "object") {
    let partitionKey;
    try {
      partitionKey = headerPartitionKey(req, undefined);
    } catch (err) {
      return error(res, 400, "BadRequest", err.message);
    }
    if (partitionKey !== undefined) {
      body[PARTITION_SCOPE] = partitionKey;
      // The library answers 400 "missing partition keys" to a query that does not filter on the
      // partition key path itself (e.g. `SELECT * FROM c ORDER BY c.id`) unless cross-partition
      // is enabled; with the partition given in the header real Cosmos needs no such filter, and
      // we already scope it to that partition.
      req.headers["x-ms-documentdb-query-enablecrosspartition"] = "true";
    }
  }
  return handlers.queryDocuments(account, req, res, params);
}

const WRAPPERS = new Map([
  [handlers.queryDocuments, queryDocuments],
  [handlers.readDocument, readDocument],
  [handlers.createDocument, createDocument],
  [handlers.upsertDocument, sizeLimited(handlers.upsertDocument)],
  [handlers.replaceDocument, sizeLimited(handlers.replaceDocument)],
  [handlers.patchDocument, patchDocument],
  [handlers.batchDocuments, batchDocuments],
]);

/* The request methods whose 2xx answer is the written resource. */
function isWrite(req) {
  return ["POST", "PUT", "PATCH"].includes(req.method) && !isQuery(req);
}

function isQuery(req) {
  const header = req.headers["x-ms-documentdb-isquery"];
  return (
    (typeof header === "string" && header.toLowerCase() === "true") ||
    req.headers["content-type"] === "application/query+json"
  );
}

/*
 * Every handler goes through this: the library's router is called at request time through
 * `routes.default`, so replacing that export puts our wrappers in front of its handlers.
 */
function wrapHandler(handler) {
  const specific = WRAPPERS.get(handler) || handler;
  return async (account, req, res, params) => {
    // Test aid, not a Cosmos header: which TLS connection served this request, so a test can
    // check that the client reuses connections (keep-alive).
    res.setHeader(CONNECTION_HEADER, String(req.socket[CONNECTION_ID] || 0));
    if (LOG_REQUESTS) logRequest(req, res);
    let body = await specific(account, req, res, params);
    /*
     * WORKAROUND (error bodies): for missing items the library's delete, replace and patch
     * handlers (and some container-level ones) answer 404 with an empty `{}` body. Real Cosmos
     * always sends {"code": ..., "message": ...}; fill it in.
     */
    if (res.statusCode === 404 && (!body || !body.code)) {
      body = { code: "NotFound", message: (body && body.message) || NOT_FOUND_MESSAGE };
    }
    /*
     * WORKAROUND (`Prefer: return=minimal`): the library ignores it and always returns the
     * written item. Real Cosmos sends an empty body (the etag header still set), which is what
     * the SDK's no_response=True / enable_content_response_on_write=False expect.
     */
    const prefer = String(req.headers.prefer || "").toLowerCase();
    if (
      prefer.includes("return=minimal") &&
      isWrite(req) &&
      res.statusCode >= 200 &&
      res.statusCode < 300 &&
      body &&
      !Array.isArray(body)
    ) {
      if (body._etag) res.setHeader("etag", body._etag);
      return undefined; // the library then ends the response with an empty body
    }
    return body;
  };
}

/* COSMOS_SERVER_LOG=1 logs one line per request to stderr (debugging aid). */
const LOGGED_HEADERS = new RegExp(
  "^(x-ms-documentdb-(partitionkey|query-enablecrosspartition|isquery)|" +
    "x-ms-cosmos-is-(batch|query-plan)-request|if-match|if-none-match|prefer|" +
    "x-ms-max-item-count|x-ms-continuation)$"
);
function logRequest(req, res) {
  const started = process.hrtime.bigint();
  res.on("finish", () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const interesting = Object.entries(req.headers)
      .filter(([name]) => LOGGED_HEADERS.test(name))
      .map(([name, value]) => `${name}=${value}`)
      .join(" ");
    const conn = req.socket[CONNECTION_ID];
    const took = `${ms.toFixed(1)} ms, conn ${conn}`;
    const line = `${req.method} ${req.url} -> ${res.statusCode} (${took}) ${interesting}`;
    process.stderr.write(`${line}\n`);
  });
}

const originalRoute = routesModule.default;
routesModule.default = (req) => {
  const route = originalRoute(req);
  if (!route) return route;
  const [params, handler] = route;
  return [params, wrapHandler(handler)];
};

function parsePort(argv) {
  const raw = argv[2] === undefined ? "0" : argv[2];
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`launch.js: invalid port ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return port;
}

function main() {
  const port = parsePort(process.argv);
  /*
   * WORKAROUND (keep-alive): the library's CLI creates the server without `keepAlive`, so every
   * response carries `Connection: close` and the SDK pays a TCP connect + TLS handshake per
   * request. `keepAlive: true` makes it answer `Connection: keep-alive`; the timeouts below keep
   * idle connections open long enough for the SDK's connection pool to reuse them.
   */
  const server = createHttpsServer({ keepAlive: true });
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 5000;
  server.requestTimeout = 0;

  let connections = 0;
  server.on("secureConnection", (socket) => {
    connections += 1;
    socket[CONNECTION_ID] = connections;
  });
  server.on("error", (err) => {
    process.stderr.write(`launch.js: ${err.stack || err}\n`);
    process.exit(1);
  });
  server.listen(port, "127.0.0.1", () => {
    process.stdout.write(`{"port": ${server.address().port}}\n`);
  });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // Set by tests/support/local_cosmos.py, which holds our stdin open: EOF means the test
  // process closed it or died, so don't outlive it.
  if (process.env.COSMOS_SERVER_EXIT_ON_STDIN_EOF) {
    process.stdin.on("end", stop);
    process.stdin.on("error", stop);
    process.stdin.resume();
  }
}

main();
