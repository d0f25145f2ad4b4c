/**
 * @module approval-id
 * What an approval id looks like: `apr_`, the id of the session object that
 * holds it (64 hex digits), and 24 random hex digits. The request schema
 * checks it; the approvals module reads the object id out of it.
 */
export const APPROVAL_ID_PATTERN = /^apr_([0-9a-f]{64})_[0-9a-f]{24}$/;
