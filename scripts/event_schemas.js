// The user change event schemas (schemas/events/*.json) as strings, for the EventBridge schema
// registry in serverless.yml: `${file(./scripts/event_schemas.js):userCreated}`. The JSON files
// stay the one source; the tests validate every emitted event against the same files.
'use strict';

const fs = require('fs');
const path = require('path');

const read = (name) =>
  JSON.stringify(JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'schemas', 'events', name), 'utf8')));

module.exports = {
  userCreated: () => read('user-created.v2.json'),
  userUpdated: () => read('user-updated.v2.json'),
  userDeleted: () => read('user-deleted.v2.json'),
};
