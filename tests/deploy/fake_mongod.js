// A fake mongod for tests/deploy/test_mongodb_init.py: runs the init Job's
// mongosh script in a sandbox whose Mongo, print and sleep are stubs sharing
// one replica-set state (read from a JSON file), then prints that state,
// the commands received and the script's output as one JSON line.
const fs = require("fs");
const vm = require("vm");
const [scriptPath, statePath] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
const calls = [];
function hostOf(url) {
  const rest = url.replace(/^mongodb:\/\/([^@]*@)?/, "");
  return rest.split(/[/?]/)[0];
}
class FakeDb {
  constructor(url) { this.url = url; }
  runCommand(cmd) {
    const name = Object.keys(cmd)[0];
    calls.push(name);
    const host = hostOf(this.url);
    if (!host.includes(",") && !state.reachable.includes(host)) throw new Error(`connect ${host}: refused`);
    switch (name) {
      case "ping": return { ok: 1 };
      case "replSetGetStatus": return state.members.length ? { ok: 1 } : { ok: 0, code: 94 };
      case "replSetInitiate":
        state.members = cmd.replSetInitiate.members.map((m) => m.host);
        state.version = 1;
        return { ok: 1 };
      case "hello": return { isWritablePrimary: state.members.length > 0 };
      case "replSetGetConfig":
        return { ok: 1, config: { _id: "rs0", version: state.version,
          members: state.members.map((host, i) => ({ _id: i, host })) } };
      case "replSetReconfig": {
        const next = cmd.replSetReconfig;
        if (next.version !== state.version + 1) return { ok: 0, errmsg: "bad version" };
        if (next.members.length !== state.members.length + 1) return { ok: 0, errmsg: "one at a time" };
        state.members = next.members.map((m) => m.host);
        state.version = next.version;
        return { ok: 1 };
      }
    }
    throw new Error(`unexpected command ${name}`);
  }
  getUser(user) { calls.push("getUser"); return state.users[user] ?? null; }
  createUser(spec) { calls.push("createUser"); state.users[spec.user] = { pwd: spec.pwd, roles: spec.roles }; }
  updateUser(user, spec) { calls.push("updateUser"); state.users[user] = { pwd: spec.pwd, roles: spec.roles }; }
}
class Mongo { constructor(url) { this.url = url; } getDB() { return new FakeDb(this.url); } }
const output = [];
const sandbox = {
  process: { env: process.env }, Mongo, Math, String, Error, JSON, encodeURIComponent,
  print: (line) => output.push(line), sleep: () => {}, tojson: (v) => JSON.stringify(v),
};
let error = null;
try { vm.runInNewContext(fs.readFileSync(scriptPath, "utf8"), sandbox); }
catch (e) { error = String(e); }
console.log(JSON.stringify({ state, calls, output, error }));
