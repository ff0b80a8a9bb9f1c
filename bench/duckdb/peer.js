'use strict';
/*
 * peer.js - DuckDB as a peer of `make bench`, in process through
 * @duckdb/node-api.  bench/peers.c starts it once and speaks to it a line
 * at a time, fields separated by tabs; every answer is one line, `ok ...`
 * or `error MESSAGE`:
 *
 *   open DBFILE                      -> ok
 *   load TASKS_CSV EPOCHS_CSV        -> ok LOAD_SECONDS SUMMARIES_SECONDS DB_BYTES
 *   time SQL                         -> ok SECONDS ROWS   (every value read)
 *   answer FILE SQL                  -> ok ROWS           (the rows as CSV)
 *
 * Only the query is timed: its statement is run and every value of every
 * row read into JavaScript, chunk by chunk, as a program that uses the
 * answer must.
 */
const fs = require('fs');
const readline = require('readline');
const { DuckDBInstance } = require('@duckdb/node-api');

let instance = null;
let conn = null;
let dbFile = null;

const tasksDdl = 'create table tasks(id integer, dataflow varchar, task varchar, status varchar, ' +
	'start double, "end" double, epochs integer, OPTIMIZER_NAME varchar, LEARNING_RATE double, ' +
	'BATCH_SIZE integer)';
const epochsDdl = 'create table epochs(task_id integer, epoch integer, time double, elapsed double, ' +
	'loss double, accuracy double, val_loss double, val_accuracy double)';
/* Shaped like dnnprov's summaries (docs/SQL.md): one row per metric and
 * task; best is the lowest for losses, as dnnprov says. */
const summariesSql = 'create table summaries as select metric, task_id, count(value) as n, ' +
	'count(*) - count(value) as nan_count, min(value) as min, arg_min(epoch, value) as min_epoch, ' +
	'max(value) as max, arg_max(epoch, value) as max_epoch, arg_min(value, epoch) as first, ' +
	'min(epoch) as first_epoch, arg_max(value, epoch) as last, max(epoch) as last_epoch, ' +
	'avg(value) as mean, case when metric like \'%loss%\' then min(value) else max(value) end as best, ' +
	'case when metric like \'%loss%\' then arg_min(epoch, value) else arg_max(epoch, value) end as best_epoch ' +
	'from (unpivot epochs on loss, accuracy, val_loss, val_accuracy into name metric value value) ' +
	'group by metric, task_id order by metric, task_id';

function quote(s) {
	return "'" + s.replace(/'/g, "''") + "'";
}

async function open(file) {
	if (conn)
		conn.closeSync();
	if (instance)
		instance.closeSync();
	dbFile = file;
	instance = await DuckDBInstance.create(file);
	conn = await instance.connect();
	return 'ok';
}

async function load(tasksCsv, epochsCsv) {
	const t0 = process.hrtime.bigint();
	await conn.run(tasksDdl);
	await conn.run(epochsDdl);
	await conn.run(`copy tasks from ${quote(tasksCsv)} (header)`);
	await conn.run(`copy epochs from ${quote(epochsCsv)} (header)`);
	await conn.run('checkpoint');
	const t1 = process.hrtime.bigint();
	await conn.run(summariesSql);
	await conn.run('checkpoint');
	const t2 = process.hrtime.bigint();
	const bytes = fs.statSync(dbFile).size;
	return `ok\t${Number(t1 - t0) / 1e9}\t${Number(t2 - t1) / 1e9}\t${bytes}`;
}

/* Runs sql and reads every value of every row; the number of rows. */
async function materialise(sql, onRow) {
	const result = await conn.run(sql);
	let rows = 0;
	for (;;) {
		const chunk = await result.fetchChunk();
		if (!chunk || chunk.rowCount === 0)
			break;
		const columns = chunk.getColumns();
		rows += chunk.rowCount;
		if (onRow)
			for (let r = 0; r < chunk.rowCount; r++)
				onRow(columns.map((c) => c[r]));
	}
	return rows;
}

async function time(sql) {
	const t0 = process.hrtime.bigint();
	const rows = await materialise(sql, null);
	const t = Number(process.hrtime.bigint() - t0) / 1e9;
	return `ok\t${t}\t${rows}`;
}

function cell(v) {
	if (v === null || v === undefined)
		return '';
	return String(v);
}

async function answer(file, sql) {
	const lines = [];
	const rows = await materialise(sql, (r) => lines.push(r.map(cell).join(',')));
	fs.writeFileSync(file, lines.length ? lines.join('\n') + '\n' : '');
	return `ok\t${rows}`;
}

async function serve(line) {
	const f = line.split('\t');
	switch (f[0]) {
	case 'open':
		return open(f[1]);
	case 'load':
		return load(f[1], f[2]);
	case 'time':
		return time(f[1]);
	case 'answer':
		return answer(f[1], f[2]);
	default:
		throw new Error(`unknown request '${f[0]}'`);
	}
}

async function main() {
	const rl = readline.createInterface({ input: process.stdin, terminal: false });
	for await (const line of rl) {
		if (line === '' || line === 'quit')
			break;
		let reply;
		try {
			reply = await serve(line);
		} catch (e) {
			reply = 'error\t' + String(e && e.message ? e.message : e).replace(/\s+/g, ' ');
		}
		process.stdout.write(reply + '\n');
	}
	if (conn)
		conn.closeSync();
	if (instance)
		instance.closeSync();
}

main().catch((e) => {
	process.stderr.write(`peer.js: ${e && e.stack ? e.stack : e}\n`);
	process.exit(1);
});
