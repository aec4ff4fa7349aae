import type { Page } from 'playwright-core';

/** Type the admin token into the sign-in form the page shows and submit it, as a person does. */
export async function submitSignIn(page: Page, token: string): Promise<void> {
  await page.fill('#token', token);
  await page.click('#sign-in');
}

/**
 * Sign in the way an operator does (docs/console.md, "Sign-in"): open a console page without a session, which
 * answers with the sign-in form at that address; type the admin token; the console brings the browser back to
 * the page it asked for. Fails (the form never shows, or the browser lands elsewhere) when either step does not
 * happen.
 */
export async function signInThroughPage(page: Page, path: string, token: string): Promise<void> {
  await page.goto(path);
  await page.locator('#token').waitFor();
  await submitSignIn(page, token);
  await page.waitForURL((url) => url.pathname + url.search === path);
}
