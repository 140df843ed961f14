// Reads a document the way a stock browser client does (yjs + y-websocket provider) and
// prints what the load generator left in its caption: length, markers, the pre-fill sentinel.
// Run from the anchors install, where the modules are:
//   cp load-tests/check-doc.mjs /tmp/anchors/ && node /tmp/anchors/check-doc.mjs ws://127.0.0.1:PORT bench-0
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [url, room] = process.argv.slice(2)
const doc = new Y.Doc()
const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket })
provider.on('sync', (synced) => {
  if (!synced) return
  const text = doc.getText('caption').toString()
  const markers = text.match(/\x01W\d{4}S\d{8}\x02/g) || []
  console.log(JSON.stringify({
    length: text.length,
    markers: markers.length,
    sentinel_at: text.indexOf('\x01W9999'),
    tail: text.slice(-34)
  }))
  process.exit(0)
})
setTimeout(() => { console.error('no sync within 10 s'); process.exit(1) }, 10000)
