// The bundled replica set's init Job (mongosh): initiate the set on its
// first member, add every member it lacks (one at a time, each once it
// answers), then create or update the application user. Every step is
// idempotent, so the Job of each release revision may run it again.
const env = process.env;
const members = env.MEMBERS.split(",");
const setName = env.REPLICA_SET;
const quote = encodeURIComponent;
const credentials = `${quote(env.ROOT_USER)}:${quote(env.ROOT_PASSWORD)}@`;
const attempts = 150;

function log(message) {
  print(`mongodb-init: ${message}`);
}

function retry(what, action) {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const result = action();
      if (result) return result;
      log(`${what}: not yet (attempt ${attempt}/${attempts})`);
    } catch (error) {
      log(`${what}: ${String(error).split("\n")[0]} (attempt ${attempt}/${attempts})`);
    }
    sleep(2000);
  }
  throw new Error(`${what}: gave up after ${attempts} attempts`);
}

function adminOf(url) {
  return new Mongo(url).getDB("admin");
}

const first = retry(`root login on ${members[0]}`, () => {
  const admin = adminOf(`mongodb://${credentials}${members[0]}/admin?directConnection=true`);
  return admin.runCommand({ ping: 1 }).ok === 1 ? admin : null;
});

const status = first.runCommand({ replSetGetStatus: 1 });
if (status.ok !== 1 && status.code === 94) {
  log(`initiating ${setName} with ${members[0]}`);
  const initiated = first.runCommand({
    replSetInitiate: { _id: setName, members: [{ _id: 0, host: members[0] }] },
  });
  if (initiated.ok !== 1) throw new Error(`replSetInitiate: ${tojson(initiated)}`);
} else {
  log(`${setName} is already initiated`);
}

const setUrl = `mongodb://${credentials}${members.join(",")}/admin?replicaSet=${setName}`;
const primary = retry("a writable primary", () => {
  const admin = adminOf(setUrl);
  return admin.runCommand({ hello: 1 }).isWritablePrimary ? admin : null;
});

for (const host of members) {
  const config = primary.runCommand({ replSetGetConfig: 1 }).config;
  if (config.members.some((member) => member.host === host)) continue;
  retry(`${host} answering`, () => adminOf(`mongodb://${host}/?directConnection=true`).runCommand({ ping: 1 }).ok === 1);
  config.version += 1;
  config.members.push({ _id: Math.max(...config.members.map((m) => m._id)) + 1, host });
  const added = primary.runCommand({ replSetReconfig: config });
  if (added.ok !== 1) throw new Error(`adding ${host}: ${tojson(added)}`);
  log(`added ${host}`);
}

const roles = [{ role: "readWrite", db: env.APP_DATABASE }];
if (primary.getUser(env.APP_USER) === null) {
  primary.createUser({ user: env.APP_USER, pwd: env.APP_PASSWORD, roles });
  log(`created user ${env.APP_USER}`);
} else {
  primary.updateUser(env.APP_USER, { pwd: env.APP_PASSWORD, roles });
  log(`updated user ${env.APP_USER}`);
}
log(`${setName} ready: ${members.length} member(s)`);
