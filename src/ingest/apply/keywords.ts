/**
 * Words by which a user stops or resumes marketing messages by writing to us. A message counts only
 * when, after normalising case, accents, punctuation and emoji away, it is exactly one of the words:
 * "STOP!" and "arrêt" opt out, "please don't stop" does not.
 */

export const DEFAULT_STOP_WORDS: readonly string[] = [
  // English (the carrier keywords) and the text of Meta's "Stop promotions" quick-reply button.
  'STOP',
  'STOPALL',
  'STOP ALL',
  'UNSUBSCRIBE',
  'CANCEL',
  'END',
  'QUIT',
  'OPTOUT',
  'OPT OUT',
  'OPT-OUT',
  'STOP PROMOTIONS',
  // German, Scandinavian, Dutch.
  'STOPP',
  'ABMELDEN',
  'ABBESTELLEN',
  'AFMELDEN',
  // French.
  'ARRET',
  'ARRÊT',
  'DESABONNER',
  'DÉSABONNER',
  'DESINSCRIRE',
  'DÉSINSCRIRE',
  // Spanish.
  'BAJA',
  'DAR DE BAJA',
  'PARAR',
  'CANCELAR',
  'ALTO',
  'DETENER',
  'DESUSCRIBIR',
  // Portuguese.
  'DESCADASTRAR',
  'SAIR',
  'PARE',
  'CANCELAR INSCRICAO',
  'CANCELAR INSCRIÇÃO',
  // Italian.
  'DISISCRIVI',
  'ANNULLA ISCRIZIONE',
  'BASTA',
];

export const DEFAULT_RESUME_WORDS: readonly string[] = [
  'START',
  'UNSTOP',
  'RESUME',
  'SUBSCRIBE',
  'RESUME PROMOTIONS',
  'STARTEN',
  'ANMELDEN',
  'REPRENDRE',
  'ABONNER',
  'ALTA',
  'REANUDAR',
  'VOLTAR',
  'RETOMAR',
  'ISCRIVI',
];

/** Upper case, accents and punctuation removed, spaces collapsed: how both words and messages are compared. */
export function normalizeKeyword(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toUpperCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

export type KeywordIntent = 'stop' | 'resume';

export class OptOutKeywords {
  private readonly words = new Map<string, KeywordIntent>();

  constructor(
    stopWords: readonly string[] = DEFAULT_STOP_WORDS,
    resumeWords: readonly string[] = DEFAULT_RESUME_WORDS,
  ) {
    for (const w of resumeWords) this.add(w, 'resume');
    // Added last so that a word on both lists opts out: the safe reading of an unclear message.
    for (const w of stopWords) this.add(w, 'stop');
  }

  private add(word: string, intent: KeywordIntent): void {
    const key = normalizeKeyword(word);
    if (key) this.words.set(key, intent);
  }

  /** What a message asks for, with the word it matched; undefined for ordinary messages. */
  match(text: string | undefined): { intent: KeywordIntent; keyword: string } | undefined {
    if (!text || text.length > 64) return undefined;
    const key = normalizeKeyword(text);
    const intent = this.words.get(key);
    return intent ? { intent, keyword: key } : undefined;
  }
}
