// A GET that answers with a page (a 200 JSON body with `next_cursor`) takes the query
// parameters `cursor` and `limit`.
module.exports = function pagination(operation) {
  const schema =
    operation && operation.responses && operation.responses['200'] &&
    operation.responses['200'].content && operation.responses['200'].content['application/json'] &&
    operation.responses['200'].content['application/json'].schema;
  const paged = Boolean(schema && schema.properties && schema.properties.next_cursor);
  if (!paged) return [];
  const query = new Set(
    (operation.parameters || []).filter((p) => p.in === 'query').map((p) => p.name),
  );
  return ['cursor', 'limit']
    .filter((name) => !query.has(name))
    .map((name) => ({ message: `a paged list takes the query parameter ${name}` }));
};
