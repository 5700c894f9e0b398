// A minimal S3 endpoint that keeps no data: it answers the requests a backup makes (multipart upload, PutObject,
// HeadObject, listing and deleting) and counts the bytes it is sent, then drops them. For `npm run bench -- --s3 null`:
// dumps bigger than moto can hold (moto assembles a completed object in memory several times over: ~4 × its size),
// and a view of the uploaders without the S3 emulator's own CPU. Listens on 127.0.0.1 only.
//   node bench/null-s3.mjs PORT
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
/** uploadId → { key, sse, kms, bytes } */
const uploads = new Map();
/** "bucket/key" → { size, sse, kms } */
const objects = new Map();

const xml = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/xml', ...headers });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
};
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const sseHeaders = (o) => ({
  ...(o.sse ? { 'x-amz-server-side-encryption': o.sse } : {}),
  ...(o.kms ? { 'x-amz-server-side-encryption-aws-kms-key-id': o.kms } : {}),
});

/** Reads (and drops) the body; resolves with its size, or with its text when `keep`. */
function body(req, keep = false) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (chunk) => {
      size += chunk.length;
      if (keep) chunks.push(chunk);
    });
    req.on('end', () => resolve(keep ? Buffer.concat(chunks).toString('utf8') : size));
    req.on('error', reject);
  });
}

createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const q = url.searchParams;
    const [bucket = '', ...rest] = decodeURIComponent(url.pathname.slice(1)).split('/');
    const key = rest.join('/');
    const id = `${bucket}/${key}`;
    const checksum = req.headers['x-amz-checksum-crc32'] ? { 'x-amz-checksum-crc32': req.headers['x-amz-checksum-crc32'] } : {};

    if (req.method === 'PUT' && !key) return void (await body(req), res.writeHead(200).end());
    if (req.method === 'POST' && q.has('uploads')) {
      await body(req);
      const uploadId = randomBytes(12).toString('hex');
      uploads.set(uploadId, { key: id, sse: req.headers['x-amz-server-side-encryption'], kms: req.headers['x-amz-server-side-encryption-aws-kms-key-id'], bytes: 0 });
      return xml(res, 200, `<InitiateMultipartUploadResult><Bucket>${esc(bucket)}</Bucket><Key>${esc(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`);
    }
    if (req.method === 'PUT' && q.has('partNumber')) {
      const upload = uploads.get(q.get('uploadId'));
      const size = await body(req);
      if (!upload) return xml(res, 404, '<Error><Code>NoSuchUpload</Code></Error>');
      upload.bytes += size;
      return void res.writeHead(200, { etag: `"part-${q.get('partNumber')}-${size}"`, ...checksum }).end();
    }
    if (req.method === 'POST' && q.has('uploadId')) {
      await body(req, true);
      const upload = uploads.get(q.get('uploadId'));
      if (!upload) return xml(res, 404, '<Error><Code>NoSuchUpload</Code></Error>');
      uploads.delete(q.get('uploadId'));
      objects.set(upload.key, { size: upload.bytes, sse: upload.sse, kms: upload.kms });
      return xml(res, 200, `<CompleteMultipartUploadResult><Bucket>${esc(bucket)}</Bucket><Key>${esc(key)}</Key><ETag>"multipart"</ETag></CompleteMultipartUploadResult>`, sseHeaders(upload));
    }
    if (req.method === 'DELETE' && q.has('uploadId')) return void (uploads.delete(q.get('uploadId')), res.writeHead(204).end());
    if (req.method === 'PUT') {
      const size = await body(req);
      const object = { size, sse: req.headers['x-amz-server-side-encryption'], kms: req.headers['x-amz-server-side-encryption-aws-kms-key-id'] };
      objects.set(id, object);
      return void res.writeHead(200, { etag: '"object"', ...checksum, ...sseHeaders(object) }).end();
    }
    if (req.method === 'HEAD') {
      const object = objects.get(id);
      if (!object) return void res.writeHead(404).end();
      return void res.writeHead(200, { 'content-length': String(object.size), etag: '"object"', 'last-modified': new Date().toUTCString(), ...sseHeaders(object) }).end();
    }
    if (req.method === 'GET' && !key) {
      const prefix = `${bucket}/${q.get('prefix') ?? ''}`;
      const keys = [...objects.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(bucket.length + 1));
      const contents = keys.map((k) => `<Contents><Key>${esc(k)}</Key><LastModified>${new Date().toISOString()}</LastModified><Size>${objects.get(`${bucket}/${k}`).size}</Size></Contents>`).join('');
      return xml(res, 200, `<ListBucketResult><Name>${esc(bucket)}</Name><KeyCount>${keys.length}</KeyCount><IsTruncated>false</IsTruncated>${contents}</ListBucketResult>`);
    }
    if (req.method === 'POST' && q.has('delete')) {
      const text = await body(req, true);
      for (const m of text.matchAll(/<Key>([^<]*)<\/Key>/g)) objects.delete(`${bucket}/${m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')}`);
      return xml(res, 200, '<DeleteResult></DeleteResult>');
    }
    if (req.method === 'DELETE') return void (objects.delete(id), res.writeHead(204).end());
    await body(req);
    return xml(res, 501, `<Error><Code>NotImplemented</Code><Message>${esc(`${req.method} ${req.url}`)}</Message></Error>`);
  } catch (err) {
    res.writeHead(500).end(String(err));
  }
}).listen(port, '127.0.0.1', () => process.stdout.write(`null-s3 listening on 127.0.0.1:${port}\n`));
