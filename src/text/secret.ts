/**
 * Secrets in text shown to people: a URL's password never reaches a log line, an error
 * message or `--help`.
 * @module
 */

/**
 * `text` with the password of a URL's user part replaced by `***`. Works on text that does
 * not parse as a URL too, so a message about a malformed URL leaks nothing either.
 */
export function maskUrlPassword(text: string): string {
  // Up to the last `@` of the URL: a password may hold an unencoded `/` or `@`.
  return text.replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@:\s[]*):[^\s"']*@/g, '$1:***@');
}
