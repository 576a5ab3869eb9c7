// Waits for the server started by `cargo leptos end-to-end` to be ready.
export default async function globalSetup(): Promise<void> {
  const base = process.env.TOLLGATE_E2E_BASE_URL ?? "http://127.0.0.1:3000";
  const deadline = Date.now() + 120_000;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Tollgate did not become ready at ${base} within 120 s (${last})`);
}
