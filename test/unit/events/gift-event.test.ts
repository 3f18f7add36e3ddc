import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  EVENT_FIELDS,
  GIFT_EVENT_LIMITS,
  GIFT_EVENT_VERSION,
  GIFT_REQUESTED_DETAIL_TYPE,
  payloadHash,
  REQUIRED_EVENT_FIELDS,
  readGiftEvent,
} from '../../../lambdas/core/events/gift-event.ts';
import { SCHEMA } from '../../../lambdas/core/recipients/schema.ts';
import { CAMPAIGN, validEvent } from '../../support/gift-events.ts';

const schema = JSON.parse(
  readFileSync(new URL('../../../schemas/gift-event.v1.json', import.meta.url), 'utf8'),
);

describe('the gift event contract', () => {
  it('reads a raw contract message and builds the exact &Open body', () => {
    // Act
    const reading = readGiftEvent(JSON.stringify(validEvent()));

    // Assess
    expect(reading).toMatchObject({
      kind: 'keyed',
      via: 'queue',
      idempotencyKey: 'signup-8842',
      errors: [],
      externalId: 'crm-8842',
      metadata: { crm_account: 'A-17' },
      body: {
        campaign_id: CAMPAIGN,
        recipient: { first_name: 'Alice', last_name: 'Smith', email: 'alice@example.com' },
      },
    });
    if (reading.kind !== 'keyed') throw new Error('unreachable');
    expect(Object.keys(reading.body ?? {})).toEqual(['campaign_id', 'recipient']);
  });

  it('reads the same contract from an EventBridge envelope, with the same payload hash', async () => {
    // Prepare
    const envelope = {
      version: '0',
      id: 'e1',
      'detail-type': GIFT_REQUESTED_DETAIL_TYPE,
      source: 'com.example.crm',
      account: '123456789012',
      time: '2026-11-22T10:00:00Z',
      region: 'eu-west-1',
      resources: [],
      detail: validEvent(),
    };

    // Act
    const viaBus = readGiftEvent(JSON.stringify(envelope));
    const viaQueue = readGiftEvent(JSON.stringify(validEvent()));

    // Assess
    expect(viaBus).toMatchObject({ kind: 'keyed', via: 'eventbridge', errors: [] });
    if (viaBus.kind !== 'keyed' || viaQueue.kind !== 'keyed') throw new Error('unreachable');
    expect(await payloadHash(viaBus.payload)).toBe(await payloadHash(viaQueue.payload));
  });

  it('refuses an EventBridge event of another detail-type as unreadable', () => {
    // Act
    const reading = readGiftEvent(
      JSON.stringify({ 'detail-type': 'Order Placed', detail: validEvent() }),
    );

    // Assess
    expect(reading).toMatchObject({ kind: 'unreadable' });
    if (reading.kind === 'unreadable') expect(reading.reason).toContain('Gift Requested');
  });

  it.each([
    ['not JSON', '{"version":1,'],
    ['not an object', '[1,2]'],
    ['without a key', JSON.stringify(validEvent({ idempotency_key: undefined }))],
    ['with an empty key', JSON.stringify(validEvent({ idempotency_key: '' }))],
    ['with a key too long', JSON.stringify(validEvent({ idempotency_key: 'k'.repeat(201) }))],
  ])('cannot record a message %s exactly once: unreadable', (_name, body) => {
    // Act
    const reading = readGiftEvent(body);

    // Assess
    expect(reading.kind).toBe('unreadable');
  });

  it('accepts a key of exactly 200 characters', () => {
    // Act
    const reading = readGiftEvent(JSON.stringify(validEvent({ idempotency_key: 'k'.repeat(200) })));

    // Assess
    expect(reading).toMatchObject({ kind: 'keyed', errors: [] });
  });

  it('reports every error of a keyed event at once, by contract path', () => {
    // Prepare
    const event = validEvent({
      version: 2,
      recipient: { first_name: 'Alice', email: 'not-an-email', phone: '+353' },
      shipping_address: { address1: '1 Main St', city: 'Dublin', country_code: 'ie' },
      external_id: 42,
      metadata: { ok: 'yes', bad: 3 },
      notes: 'hi',
    });

    // Act
    const reading = readGiftEvent(JSON.stringify(event));

    // Assess
    if (reading.kind !== 'keyed') throw new Error(`unreadable: ${JSON.stringify(reading)}`);
    expect(reading.body).toBeNull();
    expect(reading.errors.map((error) => [error.param, error.code])).toEqual(
      expect.arrayContaining([
        ['version', 'invalid'],
        ['recipient.last_name', 'required'],
        ['recipient.email', 'invalid_format'],
        ['shipping_address.region', 'required'],
        ['shipping_address.postal_code', 'required'],
        ['shipping_address.phone', 'required'],
        ['shipping_address.country_code', 'invalid_format'],
        ['line_items', 'required'],
        ['recipient.phone', 'unknown_field'],
        ['notes', 'unknown_field'],
        ['external_id', 'invalid_format'],
        ['metadata.bad', 'invalid_format'],
      ]),
    );
    expect(reading.errors).toHaveLength(12);
  });

  it('takes a direct-send event with both shipping_address and line_items', () => {
    // Prepare
    const event = validEvent({
      shipping_address: {
        address1: '12 Merrion Square',
        city: 'Dublin',
        region: 'Leinster',
        postal_code: 'D02 XY45',
        country_code: 'IE',
        phone: '+353871234567',
      },
      line_items: [{ sku: 'HOODIE-L-BLK', quantity: 1 }],
    });

    // Act
    const reading = readGiftEvent(JSON.stringify(event));

    // Assess
    expect(reading).toMatchObject({
      kind: 'keyed',
      errors: [],
      body: { line_items: [{ sku: 'HOODIE-L-BLK', quantity: 1 }] },
    });
  });

  it('wants a quantity as a JSON integer, not a string', () => {
    // Prepare
    const event = validEvent({
      shipping_address: {
        address1: '1',
        city: 'c',
        region: 'r',
        postal_code: 'p',
        country_code: 'IE',
        phone: '1',
      },
      line_items: [{ sku: 'S', quantity: '2' }],
    });

    // Act
    const reading = readGiftEvent(JSON.stringify(event));

    // Assess
    expect(reading).toMatchObject({
      kind: 'keyed',
      errors: [expect.objectContaining({ param: 'line_items[0].quantity' })],
    });
  });

  it('bounds metadata: entries, key and value lengths', () => {
    // Prepare
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v']));
    const longValue = { note: 'x'.repeat(501) };
    const longKey = { ['k'.repeat(65)]: 'v' };

    // Act
    const errorsOf = (metadata: unknown) => {
      const reading = readGiftEvent(JSON.stringify(validEvent({ metadata })));
      return reading.kind === 'keyed' ? reading.errors.map((error) => error.param) : ['unreadable'];
    };

    // Assess
    expect(errorsOf(many)).toEqual(['metadata']);
    expect(errorsOf(longValue)).toEqual(['metadata.note']);
    expect(errorsOf(longKey)).toEqual(['metadata']);
    expect(errorsOf({ a: 'x'.repeat(500) })).toEqual([]);
  });

  it('hashes a payload whatever the order of its keys, and tells different payloads apart', async () => {
    // Prepare
    const a = { b: 1, a: { d: [1, { f: 2, e: 3 }], c: 'x' } };
    const reordered = { a: { c: 'x', d: [1, { e: 3, f: 2 }] }, b: 1 };

    // Act
    const [hashA, hashB, hashOther] = await Promise.all([
      payloadHash(a),
      payloadHash(reordered),
      payloadHash({ ...a, b: 2 }),
    ]);

    // Assess
    expect(canonicalJson(a)).toBe(canonicalJson(reordered));
    expect(hashA).toBe(hashB);
    expect(hashOther).not.toBe(hashA);
  });
});

describe('the JSON Schema and the core validator agree', () => {
  it('on the version', () => {
    expect(schema.properties.version.const).toBe(GIFT_EVENT_VERSION);
    expect(schema.$id).toMatch(/v1/);
  });

  it('on the required fields and the top-level property names', () => {
    expect([...schema.required].sort()).toEqual([...REQUIRED_EVENT_FIELDS].sort());
    const apiTopLevel = new Set(
      SCHEMA.flatMap((rule) => (rule.param === null ? [] : [rule.param.split(/[.[]/)[0]])),
    );
    expect(Object.keys(schema.properties).sort()).toEqual([...EVENT_FIELDS, ...apiTopLevel].sort());
    expect(schema.additionalProperties).toBe(false);
  });

  it('on the nested gift fields, which are the recipient schema’s params', () => {
    const paramsUnder = (prefix: string) =>
      SCHEMA.flatMap((rule) =>
        rule.param?.startsWith(prefix) ? [rule.param.slice(prefix.length)] : [],
      ).sort();
    expect(Object.keys(schema.properties.recipient.properties).sort()).toEqual(
      paramsUnder('recipient.'),
    );
    expect(Object.keys(schema.properties.shipping_address.properties).sort()).toEqual(
      paramsUnder('shipping_address.'),
    );
    expect(Object.keys(schema.properties.line_items.items.properties).sort()).toEqual(
      paramsUnder('line_items[].'),
    );
    const requiredOf = (prefix: string, needs: string[]) =>
      SCHEMA.flatMap((rule) =>
        rule.param?.startsWith(prefix) && needs.includes(rule.need)
          ? [rule.param.slice(prefix.length)]
          : [],
      ).sort();
    expect([...schema.properties.recipient.required].sort()).toEqual(
      requiredOf('recipient.', ['required']),
    );
    expect([...schema.properties.shipping_address.required].sort()).toEqual(
      requiredOf('shipping_address.', ['direct-send']),
    );
    expect(schema.dependentRequired).toEqual({
      shipping_address: ['line_items'],
      line_items: ['shipping_address'],
    });
  });

  it('on the limits', () => {
    const { properties } = schema;
    expect(properties.idempotency_key.minLength).toBe(1);
    expect(properties.idempotency_key.maxLength).toBe(GIFT_EVENT_LIMITS.idempotencyKeyMaxLength);
    expect(properties.external_id.maxLength).toBe(GIFT_EVENT_LIMITS.externalIdMaxLength);
    expect(properties.metadata.maxProperties).toBe(GIFT_EVENT_LIMITS.metadataMaxEntries);
    expect(properties.metadata.propertyNames.maxLength).toBe(
      GIFT_EVENT_LIMITS.metadataKeyMaxLength,
    );
    expect(properties.metadata.additionalProperties.maxLength).toBe(
      GIFT_EVENT_LIMITS.metadataValueMaxLength,
    );
    expect(properties.line_items.minItems).toBe(1);
    expect(properties.line_items.items.properties.quantity.minimum).toBe(1);
  });
});
