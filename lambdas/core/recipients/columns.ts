/** The columns a recipient file may carry, in the order the results file and the docs use. */
export const CANONICAL_COLUMNS = [
  'campaign_id',
  'first_name',
  'last_name',
  'email',
  'address1',
  'address2',
  'city',
  'region',
  'postal_code',
  'country_code',
  'phone',
  'sku',
  'variant_id',
  'quantity',
  'external_id',
] as const;

export type CanonicalColumn = (typeof CANONICAL_COLUMNS)[number];

/**
 * Header spellings spreadsheet exports use, already normalised (see `normaliseHeader`). Each
 * spelling belongs to one column only, so matching is generous but never ambiguous: "Name" (full
 * name) or "Address 3" match nothing and are reported as unknown rather than guessed.
 */
const ALIASES: Record<CanonicalColumn, readonly string[]> = {
  campaign_id: ['campaignid', 'campaign', 'campaignuuid'],
  first_name: ['firstname', 'first', 'givenname', 'forename', 'fname'],
  last_name: ['lastname', 'last', 'surname', 'familyname', 'lname'],
  email: ['email', 'emailaddress', 'mail', 'emailaddr'],
  address1: [
    'address1',
    'addressline1',
    'address',
    'street',
    'streetaddress',
    'street1',
    'addr1',
    'line1',
  ],
  address2: ['address2', 'addressline2', 'street2', 'addr2', 'line2'],
  city: ['city', 'town', 'towncity', 'citytown', 'locality'],
  region: [
    'region',
    'state',
    'province',
    'county',
    'stateprovince',
    'stateregion',
    'stateorprovince',
  ],
  postal_code: ['postalcode', 'postcode', 'zip', 'zipcode', 'zippostalcode', 'postal', 'eircode'],
  country_code: ['countrycode', 'country', 'countryiso', 'countryisocode'],
  phone: [
    'phone',
    'phonenumber',
    'telephone',
    'telephonenumber',
    'tel',
    'mobile',
    'mobilenumber',
    'mobilephone',
    'cellphone',
  ],
  sku: ['sku', 'productsku', 'itemsku'],
  variant_id: ['variantid', 'variant'],
  quantity: ['quantity', 'qty'],
  external_id: ['externalid', 'id', 'ref', 'reference', 'externalref', 'externalreference'],
};

const COLUMN_BY_ALIAS: ReadonlyMap<string, CanonicalColumn> = new Map(
  CANONICAL_COLUMNS.flatMap((column) => ALIASES[column].map((alias) => [alias, column] as const)),
);

/** Case-, space-, accent- and punctuation-insensitive form: "E-mail " → "email", "Prénom" → "prenom". */
export function normaliseHeader(text: string): string {
  return text
    .normalize('NFD')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}

export function matchColumn(headerText: string): CanonicalColumn | null {
  return COLUMN_BY_ALIAS.get(normaliseHeader(headerText)) ?? null;
}

export interface HeaderMapping {
  /** For each cell of the header: the column it feeds, or null (unknown or a repeat). */
  columnAt: (CanonicalColumn | null)[];
  /** Canonical column → the header text as written in the file (trimmed). */
  written: Partial<Record<CanonicalColumn, string>>;
  /** Canonical column → the position of its cell in each record. */
  indexOf: Partial<Record<CanonicalColumn, number>>;
  /** Cells that match no column, as written. */
  unknown: string[];
  /** Cells that match a column an earlier cell already feeds: ignored. */
  repeated: { written: string; column: CanonicalColumn; kept: string }[];
}

export function mapHeader(header: readonly string[]): HeaderMapping {
  const mapping: HeaderMapping = {
    columnAt: [],
    written: {},
    indexOf: {},
    unknown: [],
    repeated: [],
  };
  for (const cell of header) {
    const written = cell.trim();
    const column = matchColumn(written);
    const kept = column === null ? undefined : mapping.written[column];
    if (column === null) {
      // An empty header cell (Excel's trailing separators) is not worth a warning.
      if (written !== '') mapping.unknown.push(written);
      mapping.columnAt.push(null);
    } else if (kept !== undefined) {
      mapping.repeated.push({ written, column, kept });
      mapping.columnAt.push(null);
    } else {
      mapping.written[column] = written;
      mapping.indexOf[column] = mapping.columnAt.length;
      mapping.columnAt.push(column);
    }
  }
  return mapping;
}
