/**
 * What every listener of the local cloud checks first: that a request was meant for it and does not
 * come from a web page of another site. Where this stands: local runtime, used by the S3 guard, the
 * control API and the inference endpoints' front servers.
 *
 * A web page in the user's browser can reach 127.0.0.1: through DNS rebinding (its own host name
 * resolving to 127.0.0.1, so the request carries that name in `Host`) or as a cross-site request
 * (an `Origin` of its own, `Sec-Fetch-Site: cross-site`). The listeners answer only to the names
 * they print, on their own port, and to no other site's page.
 */
import type { IncomingMessage } from 'node:http';

/** The host names a local listener answers to on its port: what it prints, and its usual alias. */
export const LOOPBACK_HOST_NAMES = ['127.0.0.1', 'localhost'] as const;

/** Why a request is refused before anything else is read. */
export interface ForeignRequest {
  /** `host`: the Host is not this listener's (DNS rebinding); `origin`: a web page of another site. */
  readonly reason: 'host' | 'origin';
  readonly message: string;
}

/**
 * Undefined when the request is for this listener (`port`) and from no other site; why not
 * otherwise. `hostNames`: the names it answers to (`any` for a listener the user put on every
 * interface, where any name may reach it and only the cross-site check applies).
 */
export function foreignRequest(
  req: IncomingMessage,
  port: number,
  hostNames: readonly string[] | 'any' = LOOPBACK_HOST_NAMES,
): ForeignRequest | undefined {
  const names = hostNames === 'any' ? [] : hostNames;
  const allowedHosts = names.map((name) => `${name}:${port}`);
  const host = req.headers.host;
  if (
    hostNames !== 'any' &&
    (headerCount(req, 'host') !== 1 || typeof host !== 'string' || !allowedHosts.includes(host.toLowerCase()))
  ) {
    return {
      reason: 'host',
      message: `The Host header '${host ?? ''}' is not this server's: it answers to ${allowedHosts.join(' and ')} only.`,
    };
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const own = (hostNames === 'any' ? LOOPBACK_HOST_NAMES : names).map((name) => `http://${name}:${port}`);
    if (headerCount(req, 'origin') !== 1 || !own.includes(origin.toLowerCase())) {
      return {
        reason: 'origin',
        message: `requests from origin '${origin}' are not allowed (a web page's cross-site request).`,
      };
    }
  }
  const fetchSite = req.headers['sec-fetch-site'];
  if (fetchSite === 'cross-site' || fetchSite === 'same-site') {
    return { reason: 'origin', message: `a ${fetchSite} browser request is not allowed.` };
  }
  return undefined;
}

/** How many times a header occurs (Node folds duplicates into one value; a second Host is suspect). */
export function headerCount(req: IncomingMessage, name: string): number {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === name) count++;
  return count;
}
