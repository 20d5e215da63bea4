// A real MCP client nobody here wrote: the official TypeScript SDK
// (@modelcontextprotocol/sdk, pinned in tests/mcp/package.json) drives
// `aetherflow mcp` through its stdio client transport, against the daemon
// of the test that starts this script (tests/integration/mcp_test.cc).
//
//   node sdk_client.cjs AETHERFLOW_BINARY SOCKET WORKDIR
//
// Exits 0 when every check held; else prints what failed and exits 1. No
// sleeps: every wait is on an answer, a notification or a log line.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');

const [binary, socket, workdir] = process.argv.slice(2);

function text(result) {
  return result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

// Resolves when the server's stderr shows a line containing `needle`.
function logLine(stream, needle) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk) => {
      seen += chunk.toString();
      if (seen.includes(needle)) {
        stream.off('data', onData);
        resolve(seen);
      }
    };
    stream.on('data', onData);
    stream.on('end', () => reject(new Error(`stderr ended without "${needle}":\n${seen}`)));
  });
}

async function call(client, name, args, options) {
  const result = await client.callTool({ name, arguments: args }, undefined, options);
  assert.equal(result.isError, false, `${name}: ${text(result)}`);
  return result;
}

// Calls `status` until `done(status)`; each call answers at once.
async function statusUntil(client, run, done) {
  for (;;) {
    const result = await call(client, 'status', { run });
    if (done(result.structuredContent)) return result.structuredContent;
  }
}

async function main() {
  const transport = new StdioClientTransport({
    command: binary,
    args: ['--socket', socket, 'mcp'],
    cwd: workdir,
    env: { ...process.env, AETHERFLOW_NO_AUTOSTART: '1' },
    stderr: 'pipe',
  });
  const stderr = transport.stderr;
  const client = new Client({ name: 'aetherflow-sdk-test', version: '1.0.0' });
  await client.connect(transport);
  assert.equal(client.getServerVersion().name, 'aetherflow');
  assert.ok(client.getServerCapabilities().tools, 'the server offers tools');
  console.log('initialized; instructions:', (client.getInstructions() || '').slice(0, 60));

  // 1. The tools, each with a schema for its arguments.
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const name of ['submit_plan', 'run_command', 'check_in', 'status', 'logs', 'list_runs',
    'cancel', 'pause', 'resume']) {
    assert.ok(names.includes(name), `tool ${name} in ${names}`);
  }
  for (const tool of tools) assert.equal(tool.inputSchema.type, 'object', tool.name);
  const checkIn = tools.find((t) => t.name === 'check_in');
  assert.match(checkIn.description, /T\+30s, T\+90s, then every 5 minutes/);
  console.log('tools:', names.join(', '));

  // 2. A command that crashes after one second: the check-in says so when
  // it happens (its first scheduled check-in is 30 s away).
  const crash = await call(client, 'run_command', {
    argv: ['sh', '-c', "sleep 1; echo 'Traceback (most recent call last):'; " +
      "echo '  File \"train.py\", line 3, in <module>'; " +
      "echo 'RuntimeError: CUDA error: device-side assert triggered'; exit 1"],
  });
  const crashRun = crash.structuredContent.run;
  const failed = await call(client, 'check_in', { run: crashRun });
  assert.equal(failed.structuredContent.verdict, 'failed', text(failed));
  assert.match(text(failed), /RuntimeError: CUDA error: device-side assert triggered/);
  console.log('crash:', text(failed).split('\n')[0]);

  // 3. An Optuna-like search that finds a new best: discovery once, then ok.
  fs.writeFileSync(path.join(workdir, 'optuna.json'), JSON.stringify({
    task_id: 'optuna',
    checkin: { schedule: '1s' },
    steps: [{
      id: 'search',
      run: "echo '[I 2026-01-26 10:00:01] Trial 0 finished with value: 0.42 and parameters: " +
        "{\"lr\": 0.01}. Best is trial 0 with value: 0.42.'; " +
        'while [ ! -f next ]; do sleep 0.05; done; ' +
        "echo '[I 2026-01-26 10:00:02] Trial 1 finished with value: 0.61 and parameters: " +
        "{\"lr\": 0.1}. Best is trial 0 with value: 0.42.'; " +
        'while [ ! -f end ]; do sleep 0.05; done',
    }],
  }));
  const search = await call(client, 'submit_plan', { plan_path: 'optuna.json' });
  const searchRun = search.structuredContent.run;
  // The first trial's line is in the log before the check-in looks.
  for (;;) {
    const logs = await call(client, 'logs', { run: searchRun, step: 'search' });
    if (logs.structuredContent.log.includes('Trial 0 finished')) break;
  }
  const discovery = await call(client, 'check_in', { run: searchRun, wait_s: 30 });
  assert.equal(discovery.structuredContent.verdict, 'discovery', text(discovery));
  console.log('discovery:', discovery.structuredContent.summary);
  fs.writeFileSync(path.join(workdir, 'next'), '');
  const ok = await call(client, 'check_in', { run: searchRun, wait_s: 30 });
  assert.equal(ok.structuredContent.verdict, 'ok', `announced once: ${text(ok)}`);
  console.log('then:', ok.structuredContent.verdict);
  fs.writeFileSync(path.join(workdir, 'end'), '');
  await statusUntil(client, searchRun, (s) => s.run.state === 'succeeded');
  const succeeded = await call(client, 'check_in', { run: searchRun });
  assert.equal(succeeded.structuredContent.verdict, 'succeeded', text(succeeded));

  // 4. A check_in cancelled while it waits ends at once; the server goes on.
  const long = await call(client, 'run_command', {
    argv: ['sh', '-c', 'while [ ! -f stop ]; do sleep 0.05; done'],
  });
  const longRun = long.structuredContent.run;
  const controller = new AbortController();
  let progressSeen = 0;
  const cancelledLog = logLine(stderr, `check_in on run ${longRun} cancelled`);
  const waiting = client.callTool({ name: 'check_in', arguments: { run: longRun, wait_s: 300 } },
    undefined, {
      signal: controller.signal,
      timeout: 600000,
      onprogress: (progress) => {
        ++progressSeen;
        assert.equal(progress.total, 300);
        controller.abort(new Error('the user changed their mind'));
      },
    });
  await assert.rejects(waiting);
  assert.ok(progressSeen >= 1, 'progress notifications while check_in waits');
  await cancelledLog;
  await client.ping();
  console.log('cancelled: the waiting check_in ended');
  fs.writeFileSync(path.join(workdir, 'stop'), '');
  await statusUntil(client, longRun, (s) => s.run.state === 'succeeded');

  // 5. wait_s 1000: clamped to 300, and the result says so.
  const clamped = await call(client, 'check_in', { run: searchRun, wait_s: 1000 });
  assert.equal(clamped.structuredContent.wait_s, 300);
  assert.match(clamped.structuredContent.note, /wait_s 1000 is more than 300/);
  assert.match(text(clamped), /waited at most 300 s/);
  console.log('clamped:', clamped.structuredContent.note);

  // Tool errors are results the agent reads, not protocol failures.
  const unknown = await client.callTool({ name: 'status', arguments: { run: 'no-such-run' } });
  assert.equal(unknown.isError, true);
  assert.match(text(unknown), /^aetherflow: /);

  await client.close();
  console.log('sdk test: all checks passed');
}

main().then(() => process.exit(0), (error) => {
  console.error('sdk test FAILED:', error && error.stack ? error.stack : error);
  process.exit(1);
});
