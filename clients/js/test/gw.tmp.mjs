import { startGateway, makeToken } from "/work/wt/15/clients/js/test/support/stack.mjs";
const gw = await startGateway({ PROMETHEAN_GATEWAY_PUBLISH_RATE: "1000000", PROMETHEAN_GATEWAY_PUBLISH_BURST: "1000000" });
console.log(gw.url, makeToken());
process.on("SIGTERM", async () => { await gw.kill(); process.exit(0); });
setInterval(() => {}, 100000);
