/**
 * Is `text` nested deeper than `max` arrays/objects? A linear scan before JSON.parse, so that a hostile
 * body (thousands of `[`) is refused before it is parsed, and never reaches code that recurses over it
 * (validation, logging, the store's serialiser), where it overflowed the stack.
 */
export function nestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
