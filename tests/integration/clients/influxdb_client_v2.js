// The npm `@influxdata/influxdb-client` (InfluxDB 2.x) against metricsd, as a user runs it.
// Usage: node influxdb_client_v2.js PORT TOKEN NODE BASE_S
// Writes with Authorization: Token, one write API per precision (s, ms, us, ns), a point each
// at BASE_S (scaled, plus a sub-second part where the precision has one), gzipped (the
// threshold is lowered so every body is compressed, as large Telegraf batches are).
// Exits non-zero with a message on anything unexpected; the test reads the rows back.
'use strict';
const {InfluxDB, Point} = require('@influxdata/influxdb-client');

async function main() {
  const [port, token, node, baseS] = process.argv.slice(2);
  const client = new InfluxDB({url: `http://127.0.0.1:${port}`, token, timeout: 10000});
  const scale = {s: 1n, ms: 1000n, us: 1000000n, ns: 1000000000n};
  const extra = {s: 0n, ms: 250n, us: 250500n, ns: 250500700n};
  for (const precision of Object.keys(scale)) {
    const write = client.getWriteApi('any-org', 'any-bucket', precision,
                                     {gzipThreshold: 1, maxRetries: 0});
    const ts = BigInt(baseS) * scale[precision] + extra[precision];
    write.writePoint(new Point('llm')
                         .tag('node', `${node}-${precision}`)
                         .floatField('tokens_per_s', 812.5)
                         .intField('requests', 7)
                         .timestamp(ts.toString()));
    await write.close();
  }
  console.log('ok');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
