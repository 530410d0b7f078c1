/**
 * `tlslp/certs`: certificates in pure TypeScript. A new set (CA, server, client), then its
 * lifecycle on the CA folder: issue per-client and server certificates, describe a
 * certificate, revoke one in the CA's CRL, make, list and re-sign that CRL.
 * @module
 */
export {
  CERT_FILE_NAMES,
  generateCertificateSet,
  makeCertificates,
  readCertificateSet,
  writeCertificateSet,
  type CertificateSet,
  type GenerateOptions,
  type WrittenCertificates,
} from './generate.js';
export {
  issueClientCertificate,
  issueServerCertificate,
  type IssueClientOptions,
  type IssueServerOptions,
  type IssuedCertificate,
  type KeyType,
} from './issue.js';
export {
  describeCertificate,
  formatCertificate,
  type CertificateDescription,
  type NameDescription,
} from './inspect.js';
export {
  CRL_FILE_NAME,
  crlJson,
  describeCrl,
  formatCrl,
  initCrl,
  isCrl,
  listCrl,
  readCrl,
  verifyCrl,
  refreshCrl,
  revokeCertificate,
  type CrlEntry,
  type CrlInfo,
  type InitCrlOptions,
  type ListedCrl,
  type WrittenCrl,
  type RevocationReason,
  type RevokeOptions,
  type RevokeResult,
} from './crl.js';
