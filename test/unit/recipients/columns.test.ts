import { describe, expect, it } from 'vitest';
import {
  mapHeader,
  matchColumn,
  normaliseHeader,
} from '../../../lambdas/core/recipients/columns.ts';
import { CANONICAL_COLUMNS } from '../../../lambdas/core/recipients/index.ts';
import { SCHEMA } from '../../../lambdas/core/recipients/schema.ts';

describe('header matching', () => {
  it.each([
    ['First Name', 'first_name'],
    ['FIRSTNAME', 'first_name'],
    ['Given Name', 'first_name'],
    ['Surname', 'last_name'],
    ['Family Name', 'last_name'],
    ['E-mail', 'email'],
    ['Email Address', 'email'],
    ['Address Line 1', 'address1'],
    ['Street', 'address1'],
    ['Address 2', 'address2'],
    ['Town', 'city'],
    ['County', 'region'],
    ['Zip Code', 'postal_code'],
    ['Postcode', 'postal_code'],
    ['Country', 'country_code'],
    ['Telephone', 'phone'],
    ['Mobile', 'phone'],
    ['SKU', 'sku'],
    ['Variant ID', 'variant_id'],
    ['Qty', 'quantity'],
    ['ID', 'external_id'],
    [' campaign_id ', 'campaign_id'],
  ])('reads %j as %s', (header, column) => {
    // Prepare
    const written = header;

    // Act
    const matched = matchColumn(written);

    // Assess
    expect(matched).toBe(column);
  });

  it('matches nothing for names that could mean several columns', () => {
    // Prepare
    const ambiguous = ['Name', 'Full Name', 'Address 3', 'Notes', ''];

    // Act
    const matched = ambiguous.map(matchColumn);

    // Assess
    expect(matched).toEqual([null, null, null, null, null]);
  });

  it('ignores case, spaces, punctuation and accents', () => {
    // Prepare
    const header = '  Zip/Postal-Code ';

    // Act
    const normalised = normaliseHeader(header);

    // Assess
    expect(normalised).toBe('zippostalcode');
    expect(normaliseHeader('Prénom')).toBe('prenom');
  });

  it('does not report empty header cells as unknown columns', () => {
    // Prepare
    const header = ['first_name', 'last_name', '', ' '];

    // Act
    const mapping = mapHeader(header);

    // Assess
    expect(mapping.unknown).toEqual([]);
    expect(mapping.columnAt).toEqual(['first_name', 'last_name', null, null]);
  });

  it('has one schema entry per canonical column', () => {
    // Prepare
    const columns = SCHEMA.map((rule) => rule.column);

    // Act
    const sorted = [...columns].sort();

    // Assess
    expect(sorted).toEqual([...CANONICAL_COLUMNS].sort());
  });
});
