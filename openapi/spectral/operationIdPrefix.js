// The operation id prefix a path's tier asks for, e.g. /system/erp/v1/... -> system-erp-.
// Public platform routes (unversioned) take any kebab-case id.
function expectedPrefix(path) {
  let match;
  if ((match = path.match(/^\/(partner|ops)\/v\d+\//))) return `${match[1]}-`;
  if ((match = path.match(/^\/system\/([a-z]+)\/v\d+\//))) return `system-${match[1]}-`;
  if ((match = path.match(/^\/v1\/([a-z][a-z0-9-]*)/))) return `${match[1]}-`;
  if ((match = path.match(/^\/v(\d+)\/([a-z][a-z0-9-]*)/))) return `${match[2]}-v${match[1]}-`;
  return null;
}

module.exports = function operationIdPrefix(operationId, _options, context) {
  const path = context.path[1];
  const prefix = expectedPrefix(String(path));
  if (prefix === null || (typeof operationId === 'string' && operationId.startsWith(prefix))) {
    return [];
  }
  return [{ message: `operation id ${operationId} of ${path} must start with ${prefix}` }];
};
