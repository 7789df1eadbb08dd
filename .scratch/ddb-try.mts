import { startLocalDynamoDb } from '/work/main/local/services/dynamodb-local';
const t = Date.now();
const d = await startLocalDynamoDb({ dataDir: '/tmp/ddbtry', port: 0, tableName: 'mlops-registry', fresh: true });
console.log(d.endpoint, d.tableCreated, Date.now() - t);
await d.stop();
console.log('stopped', Date.now() - t);
