/** Sign in to a test server's console as a browser would (the form's POST); the cookies it set, ready to send back. */
export interface ConsoleCookies {
  /** `sb_session=…; sb_csrf=…`, for a Cookie header. */
  cookie: string;
  session: string;
  csrf: string;
  setCookie: string[];
}

export async function signIn(url: string, token: string): Promise<ConsoleCookies> {
  const res = await fetch(`${url}/console/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, next: '/console/live' }).toString(),
  });
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}: ${await res.text()}`);
  const setCookie = res.headers.getSetCookie();
  const value = (name: string) => {
    const line = setCookie.find((c) => c.startsWith(`${name}=`));
    if (!line) throw new Error(`sign-in set no ${name} cookie`);
    return decodeURIComponent(line.slice(name.length + 1).split(';')[0]!);
  };
  const session = value('sb_session');
  const csrf = value('sb_csrf');
  return { cookie: `sb_session=${encodeURIComponent(session)}; sb_csrf=${encodeURIComponent(csrf)}`, session, csrf, setCookie };
}

/** An admin API answer's JSON: an error body, or a created object's id. */
export interface ApiBody {
  id?: string;
  error: { code: string; message: string; fields?: string[] };
}

export async function bodyOf(res: Response): Promise<ApiBody> {
  return (await res.json()) as ApiBody;
}
