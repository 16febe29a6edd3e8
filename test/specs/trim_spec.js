#!/usr/bin/env node
// test/specs/trim_spec.js [--prefix /p] [--optional a,b] [--nullable S.p,...]
// [--opaque "METHOD /path=media/type",...] IN OUT "METHOD /path" ...
// — writes the OpenAPI
// document IN (JSON or YAML) to OUT as JSON with only the operations named
// and the components they reach (paths under --prefix, for a document
// whose server URL carries part of the path, as Azure's "/openai"; --optional
// takes the names given out of every `required` list: members the document
// requires but the provider's real answers, recorded in test/samples, omit;
// --nullable lets property p of component schema S be null as well: members
// the real answers, and the document's own examples, give as null where
// the schema allows only a string or an integer; --opaque makes the 200
// answer of an operation a string of the media type given: a file download
// that Prism cannot check, as JSONL, which it does not parse),
// for Stoplight Prism (which stops checking
// request bodies when it meets a schema it cannot compile: `nullable`
// without `type` is dropped, and a smaller document keeps it fast).
// Needs js-yaml (it comes with @stoplight/prism-cli: NODE_PATH=<its node_modules>).
// Used by hand to refresh the documents in this folder (README.md there).
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');

const argv = process.argv.slice(2);
let prefix = '';
let optional = [];
let nullable = [];
let opaque = [];
for (;;) {
	if (argv[0] === '--prefix')
		prefix = argv[1];
	else if (argv[0] === '--optional')
		optional = argv[1].split(',');
	else if (argv[0] === '--nullable')
		nullable = argv[1].split(',');
	else if (argv[0] === '--opaque')
		opaque = argv[1].split(',');
	else
		break;
	argv.splice(0, 2);
}
const [input, output, ...ops] = argv;
if (!input || !output || ops.length === 0) {
	console.error('usage: trim_spec.js IN OUT "post /v1/path" ...');
	process.exit(2);
}
const text = fs.readFileSync(input, 'utf8');
const doc = input.endsWith('.json') ? JSON.parse(text) : yaml.load(text);

const paths = {};
for (const op of ops) {
	const [method, path] = op.split(' ');
	const item = doc.paths[path];
	if (!item || !item[method.toLowerCase()])
		throw new Error(`no operation ${op} in ${input}`);
	const to = prefix + path;
	paths[to] = paths[to] || {};
	if (item.parameters)
		paths[to].parameters = item.parameters;
	paths[to][method.toLowerCase()] = item[method.toLowerCase()];
}

// every component reachable from the kept operations
const keep = new Set();
function walk(node) {
	if (Array.isArray(node))
		return node.forEach(walk);
	if (node === null || typeof node !== 'object')
		return;
	if (typeof node.$ref === 'string' && node.$ref.startsWith('#/components/')) {
		if (!keep.has(node.$ref)) {
			keep.add(node.$ref);
			const [, , kind, name] = node.$ref.split('/');
			walk(doc.components[kind][name]);
		}
	}
	for (const v of Object.values(node))
		walk(v);
}
walk(paths);
const components = {};
for (const ref of keep) {
	const [, , kind, name] = ref.split('/');
	components[kind] = components[kind] || {};
	components[kind][name] = doc.components[kind][name];
}
if (doc.components && doc.components.securitySchemes)
	components.securitySchemes = doc.components.securitySchemes;

// `nullable` without `type` stops Prism's body validation (3.0 documents);
// examples in other files (Azure's) cannot be resolved here, and Prism
// generates answers from the schemas (--dynamic) anyway
function dropBareNullable(node) {
	if (Array.isArray(node))
		return node.forEach(dropBareNullable);
	if (node === null || typeof node !== 'object')
		return;
	if ('nullable' in node && !('type' in node))
		delete node.nullable;
	if (Array.isArray(node.required) && optional.length > 0)
		node.required = node.required.filter((name) => !optional.includes(name));
	for (const [k, v] of Object.entries(node)) {
		if (k === 'x-ms-examples' || ((k === 'examples' || k === 'example') && JSON.stringify(v).includes('"$ref":"./examples/')))
			delete node[k];
		else
			dropBareNullable(v);
	}
}
const out = {openapi: doc.openapi, info: doc.info, servers: doc.servers, paths, components};
if (doc.security)
	out.security = doc.security;
dropBareNullable(out);
for (const name of nullable) {
	const [schema, prop] = name.split('.');
	const p = ((components.schemas || {})[schema] || {}).properties;
	if (!p || !p[prop] || typeof p[prop].type !== 'string')
		throw new Error(`--nullable ${name}: no property with a single type`);
	p[prop].type = [p[prop].type, 'null'];
}
for (const spec of opaque) {
	const [op, media] = spec.split('=');
	const [method, path] = op.split(' ');
	const res = ((paths[prefix + path] || {})[method.toLowerCase()] || {}).responses;
	if (!res || !res['200'] || !media)
		throw new Error(`--opaque ${spec}: no such operation with a 200 answer`);
	res['200'].content = {[media]: {schema: {type: 'string'}}};
}
fs.writeFileSync(output, JSON.stringify(out, null, 1) + '\n');
console.log(`${output}: ${ops.length} operations, ${keep.size} components`);
