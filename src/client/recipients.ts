import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { parse } from 'csv-parse';
import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { isValidTimeZone } from '../shared/send-window';

/** One input row, checked. `error` says what is wrong with it; otherwise the other fields are set. */
export interface RecipientRow {
  /** 1-based line of the row in the file (the header is line 1 of a CSV); also the recipient's key. */
  line: number;
  /** The row as written, for the rejection list. */
  raw: string;
  phone?: string;
  params: string[];
  timezone?: string;
  locale?: string;
  error?: string;
}

export interface RecipientFile {
  format: 'csv' | 'jsonl';
  /** Names of the template parameter columns, in order. */
  parameterColumns: string[];
  rows: AsyncIterable<RecipientRow>;
}

export interface ReadRecipientsOptions {
  /** Country assumed for numbers written without +country code; without it such numbers are refused. */
  defaultCountry?: string;
}

/** A recipient file that cannot be read at all; the message says what to fix. */
export class RecipientFileError extends Error {
  override name = 'RecipientFileError';
}

const RESERVED = new Set(['phone', 'timezone', 'locale']);

/**
 * Streams a CSV (header: phone, parameter columns…, optional timezone, locale) or JSONL file (objects with
 * the same fields, or `params: [...]`) without holding it in memory, checking every row.
 */
export async function openRecipientFile(
  file: string,
  options: ReadRecipientsOptions = {},
): Promise<RecipientFile> {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.csv' && ext !== '.jsonl' && ext !== '.ndjson') {
    throw new RecipientFileError(`${file}: recipients must be a .csv or .jsonl file`);
  }
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new RecipientFileError(
      err.code === 'ENOENT'
        ? `${file}: no such file`
        : `${file}: cannot be read (${err.code ?? err.message})`,
    );
  });
  if (!info.isFile()) throw new RecipientFileError(`${file}: is a directory, not a recipients file`);
  const checked = {
    ...options,
    ...(options.defaultCountry ? { defaultCountry: countryCode(options.defaultCountry) } : {}),
  };
  return ext === '.csv' ? openCsv(file, checked) : openJsonl(file, checked);
}

/**
 * A default country as libphonenumber knows it (ISO 3166-1 alpha-2, any case), or an error that names the
 * setting: a wrong one would otherwise be blamed on every row as an invalid number.
 */
export function countryCode(input: string): CountryCode {
  const upper = input.trim().toUpperCase();
  if (!isSupportedCountry(upper)) {
    throw new RecipientFileError(
      `default country "${input}" is not a country code with a numbering plan: use an ISO 3166-1 alpha-2 code such as DE or US`,
    );
  }
  return upper;
}

async function openCsv(file: string, options: ReadRecipientsOptions): Promise<RecipientFile> {
  const parser = createReadStream(file).pipe(
    parse({ bom: true, relax_column_count: true, skip_empty_lines: true, trim: true, raw: true, info: true }),
  );
  const iterator = parser[Symbol.asyncIterator]() as AsyncIterator<CsvRecord>;
  const first = await nextOrFail(iterator, file);
  if (!first)
    throw new RecipientFileError(
      `${file}: the file is empty; the first line must be a header starting with "phone"`,
    );
  const header = first.record.map((h) => h.toLowerCase());
  const seen = new Map<string, number>();
  header.forEach((h, i) => {
    const earlier = seen.get(h);
    if (earlier !== undefined) {
      throw new RecipientFileError(
        `${file}: column "${first.record[i] ?? h}" appears twice in the header (columns ${earlier + 1} and ${i + 1}); name each column once`,
      );
    }
    seen.set(h, i);
  });
  if (header[0] !== 'phone') {
    throw new RecipientFileError(
      `${file}: the header must start with "phone", found "${first.record[0] ?? ''}"`,
    );
  }
  const parameterColumns = first.record.filter((_, i) => i > 0 && !RESERVED.has(header[i] ?? ''));
  const tzIndex = header.indexOf('timezone');
  const localeIndex = header.indexOf('locale');
  const paramIndexes = header.map((h, i) => (i > 0 && !RESERVED.has(h) ? i : -1)).filter((i) => i >= 0);

  async function* rows(): AsyncGenerator<RecipientRow> {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      const { record, info, raw } = next.value;
      const line = info.lines;
      if (record.length !== header.length) {
        yield {
          line,
          raw: raw.trimEnd(),
          params: [],
          error: `expected ${header.length} columns, found ${record.length}`,
        };
        continue;
      }
      yield checkRow(
        {
          line,
          raw: raw.trimEnd(),
          phone: record[0] ?? '',
          params: paramIndexes.map((i) => record[i] ?? ''),
          paramNames: parameterColumns,
          timezone: tzIndex >= 0 ? record[tzIndex] : undefined,
          locale: localeIndex >= 0 ? record[localeIndex] : undefined,
        },
        options,
      );
    }
  }
  return { format: 'csv', parameterColumns, rows: rows() };
}

interface CsvRecord {
  record: string[];
  info: { lines: number };
  raw: string;
}

async function nextOrFail(iterator: AsyncIterator<CsvRecord>, file: string): Promise<CsvRecord | undefined> {
  try {
    const first = await iterator.next();
    return first.done ? undefined : first.value;
  } catch (err) {
    throw new RecipientFileError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function openJsonl(file: string, options: ReadRecipientsOptions): RecipientFile {
  // JSONL has no header: the parameter names are those of the first object that has any.
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  const iterator = lines[Symbol.asyncIterator]();
  let parameterColumns: string[] | undefined;

  async function* rows(): AsyncGenerator<RecipientRow> {
    let line = 0;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      line++;
      const text = next.value.trim();
      if (!text) continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        yield { line, raw: text, params: [], error: 'not valid JSON' };
        continue;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        yield { line, raw: text, params: [], error: 'each line must be a JSON object with a "phone" field' };
        continue;
      }
      const obj = value as Record<string, unknown>;
      let names: string[];
      let params: unknown[];
      if (Array.isArray(obj.params)) {
        params = obj.params;
        names = params.map((_, i) => `params[${i}]`);
      } else {
        names = Object.keys(obj).filter((k) => !RESERVED.has(k.toLowerCase()));
        params = names.map((k) => obj[k]);
      }
      parameterColumns ??= names;
      yield checkRow(
        {
          line,
          raw: text,
          phone: typeof obj.phone === 'string' || typeof obj.phone === 'number' ? String(obj.phone) : '',
          params: params.map(paramText),
          paramNames: names,
          timezone: typeof obj.timezone === 'string' ? obj.timezone : undefined,
          locale: typeof obj.locale === 'string' ? obj.locale : undefined,
        },
        options,
      );
    }
  }
  return {
    format: 'jsonl',
    get parameterColumns() {
      return parameterColumns ?? [];
    },
    rows: rows(),
  };
}

/** A parameter value as text; objects are written as JSON rather than "[object Object]". */
function paramText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return value.toString();
  return JSON.stringify(value);
}

interface UncheckedRow {
  line: number;
  raw: string;
  phone: string;
  params: string[];
  paramNames: string[];
  timezone?: string;
  locale?: string;
}

function checkRow(row: UncheckedRow, options: ReadRecipientsOptions): RecipientRow {
  const base = { line: row.line, raw: row.raw, params: row.params };
  const phone = normalisePhone(row.phone, options.defaultCountry);
  if ('error' in phone) return { ...base, error: phone.error };
  const emptyAt = row.params.findIndex((p) => p.trim() === '');
  if (emptyAt >= 0)
    return { ...base, error: `parameter "${row.paramNames[emptyAt] ?? emptyAt + 1}" is empty` };
  const timezone = row.timezone?.trim() || undefined;
  if (timezone && !isValidTimeZone(timezone)) {
    return { ...base, error: `unknown time zone "${timezone}" (use an IANA name such as Europe/Berlin)` };
  }
  return { ...base, phone: phone.e164, timezone, locale: row.locale?.trim() || undefined };
}

/** E.164 form of a phone number, checked against the numbering plan of its country. */
export function normalisePhone(input: string, defaultCountry?: string): { e164: string } | { error: string } {
  const text = input.trim();
  if (!text) return { error: 'phone is empty' };
  if (!text.startsWith('+') && !text.startsWith('00') && !defaultCountry) {
    return { error: `phone "${text}" needs an international prefix, e.g. +14155550123` };
  }
  const parsed = parsePhoneNumberFromString(
    text.startsWith('00') ? `+${text.slice(2)}` : text,
    defaultCountry as CountryCode | undefined,
  );
  if (!parsed || !parsed.isValid()) return { error: `phone "${text}" is not a valid number` };
  return { e164: parsed.number };
}
