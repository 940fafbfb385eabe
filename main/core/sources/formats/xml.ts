import { XMLParser } from 'fast-xml-parser';

/** XML access shared by the libvirt, VirtualBox and OVF parsers. */

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // OVF and .vbox use namespaces (ovf:href, vbox:...); the prefix varies between writers.
  removeNSPrefix: true,
  // UUIDs such as "1234" and names such as "007" must stay strings.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
});

export type XmlNode = Record<string, unknown>;

export function parseXml(text: string): XmlNode {
  return xmlParser.parse(text) as XmlNode;
}

/** fast-xml-parser gives one child as an object and several as an array. */
export function xmlList(v: unknown): XmlNode[] {
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is XmlNode => typeof x === 'object' && x !== null);
}

export function xmlAttr(node: unknown, name: string): string | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  const v = (node as XmlNode)[`@_${name}`];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

export function xmlText(node: unknown): string | undefined {
  if (typeof node === 'string') return node;
  if (typeof node === 'number') return String(node);
  if (typeof node === 'object' && node !== null) {
    const t = (node as XmlNode)['#text'];
    if (typeof t === 'string' || typeof t === 'number') return String(t);
  }
  return undefined;
}

/** The first child element called `name`. */
export function xmlChild(node: unknown, name: string): XmlNode | undefined {
  return xmlList((node as XmlNode | undefined)?.[name])[0];
}
