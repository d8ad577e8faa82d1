'use strict';
/**
 * Local Serverless plugin: how this stack meets its Cognito user pool.
 *
 * One parameter decides, `userPoolId`:
 *   - empty (the default): mode "new". The stack creates the pool (custom attributes, app client) and
 *     attaches the triggers through the pool's LambdaConfig.
 *   - a pool id: mode "existing". The triggers are attached to that pool by the framework's custom
 *     resource (it finds the pool by `userPoolName`), and the authorizer trusts `appClientId`
 *     (comma-separated app client ids). The local stack runs in this mode against cognito-local.
 *
 * It gives serverless.yml:
 *   - `${userPool:<key>}`: the mode's values (mode, existing, name, id, arn, issuerUrl, audience).
 *   - the mode's extra resources (`custom.userPoolResources.<mode>`: Resources, Outputs, extensions),
 *     merged into `resources` before the template is finalized, so that `resources` stays one mapping
 *     (the tests and the local stack read the table definition from it).
 * The Serverless variables language has no conditional: this is the smallest way to get one.
 */

const NEW_POOL_LOGICAL_ID = 'CognitoUserPoolMirrorUserPool'; // the framework's id for pool "MirrorUserPool"
const NEW_CLIENT_LOGICAL_ID = 'MirrorUserPoolClient';

function newPool() {
  return {
    mode: 'new',
    existing: false,
    name: 'MirrorUserPool',
    id: { Ref: NEW_POOL_LOGICAL_ID },
    // Built with Fn::Sub (not GetAtt): no dependency cycle through the trigger functions.
    arn: {
      'Fn::Sub': `arn:\${AWS::Partition}:cognito-idp:\${AWS::Region}:\${AWS::AccountId}:userpool/\${${NEW_POOL_LOGICAL_ID}}`,
    },
    issuerUrl: {
      'Fn::Sub': `https://cognito-idp.\${AWS::Region}.amazonaws.com/\${${NEW_POOL_LOGICAL_ID}}`,
    },
    audience: [{ Ref: NEW_CLIENT_LOGICAL_ID }],
  };
}

function existingPool(id, name, clientIds, issuerUrl, region) {
  if (!clientIds.length) {
    throw new Error(
      'userPoolId is set (existing pool) but appClientId is empty: pass ' +
        '--param="appClientId=<id>[,<id>...]", the app client ids the HTTP API accepts'
    );
  }
  return {
    mode: 'existing',
    existing: true,
    // The framework attaches triggers to an existing pool by name. Without userPoolName the
    // package still builds (the local stack needs no name), but a deploy fails to find the pool.
    name: name || id,
    id,
    arn: { 'Fn::Sub': `arn:\${AWS::Partition}:cognito-idp:\${AWS::Region}:\${AWS::AccountId}:userpool/${id}` },
    issuerUrl: issuerUrl || `https://cognito-idp.${region}.amazonaws.com/${id}`,
    audience: clientIds,
  };
}

async function resolvePool(resolveVariable) {
  const param = async (name) => String((await resolveVariable(`param:${name}`)) || '').trim();
  const id = await param('userPoolId');
  if (!id) return newPool();
  const clientIds = (await param('appClientId'))
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const region = await resolveVariable('self:provider.region');
  return existingPool(id, await param('userPoolName'), clientIds, await param('issuerUrl'), region);
}

class UserPoolPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    let pool;
    this.configurationVariablesSources = {
      userPool: {
        async resolve({ address, resolveVariable }) {
          pool = pool || (await resolvePool(resolveVariable));
          if (!address || !(address in pool)) {
            throw new Error(`\${userPool:${address}}: expected one of ${Object.keys(pool).join(', ')}`);
          }
          return { value: pool[address] };
        },
      },
    };
    this.hooks = { 'before:package:finalize': () => this.mergeModeResources() };
  }

  mergeModeResources() {
    const { service } = this.serverless;
    const mode = service.custom.userPoolMode;
    const extra = (service.custom.userPoolResources || {})[mode] || {};
    service.resources = service.resources || {};
    for (const section of ['Resources', 'Outputs', 'extensions']) {
      if (!extra[section]) continue;
      const target = (service.resources[section] = service.resources[section] || {});
      for (const [key, value] of Object.entries(extra[section])) {
        if (key in target) throw new Error(`user pool mode ${mode}: ${section}.${key} is defined twice`);
        target[key] = value;
      }
    }
  }
}

module.exports = UserPoolPlugin;
