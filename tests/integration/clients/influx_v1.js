// The npm `influx` client (InfluxDB 1.x) against metricsd, as a user runs it.
// Usage: node influx_v1.js PORT TOKEN NODE BASE_S
// Pings, creates the database, lists databases, then writes two points at BASE_S and
// BASE_S + 1.5 s with precision ms for node NODE. The token goes as p= (any u=).
// Exits non-zero with a message on anything unexpected; the test reads the rows back.
'use strict';
const Influx = require('influx');

async function main() {
  const [port, token, node, baseS] = process.argv.slice(2);
  const influx = new Influx.InfluxDB({
    host: '127.0.0.1', port: Number(port), username: 'telegraf', password: token,
    database: 'telegraf',
  });
  const hosts = await influx.ping(5000);
  if (!hosts[0].online || !String(hosts[0].version).startsWith('1.8'))
    throw new Error('ping: ' + JSON.stringify(hosts[0]));
  await influx.createDatabase('jsdb');
  const names = await influx.getDatabaseNames();
  if (!names.includes('jsdb')) throw new Error('SHOW DATABASES lacks jsdb: ' + names);
  const base = Number(baseS) * 1000;
  await influx.writePoints([
    {measurement: 'gpu', tags: {node, gpu: '0'}, fields: {temp_c: 71.5, util: 93},
     timestamp: base},
    {measurement: 'gpu', tags: {node, gpu: '1'}, fields: {temp_c: 64.25},
     timestamp: base + 1500},
  ], {precision: 'ms'});
  console.log('ok');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
