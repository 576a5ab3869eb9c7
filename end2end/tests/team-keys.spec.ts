import { createTeamAndChooseIt, expect, hydrated, inviteAndJoin, newEmail, signUpAs, snapshot, test } from "./fixtures";

const FAL_KEY = "3f1c2a9e-1b2c-4d5e-8f90-0123456789ab:0123456789abcdef0123456789ab5e21";

test("a team's fal.ai key pays for a member's run; only the owner can change it", async ({ browser }) => {
  test.slow();
  // The owner makes a team, chooses its wallet and saves a fal.ai key for it.
  const owner = await (await browser.newContext()).newPage();
  await signUpAs(owner, newEmail("keyowner"));
  await createTeamAndChooseIt(owner, "Key Studio");
  await owner.goto("/settings/api-keys");
  await hydrated(owner);
  await expect(owner.getByTestId("team-keys-note")).toContainText("These are the keys of the team Key Studio");
  const fal = owner.locator("[data-provider=fal]");
  await fal.getByLabel("Add a fal.ai key").fill(FAL_KEY);
  await fal.getByRole("button", { name: "Save key" }).click();
  await expect(fal.getByTestId("key-status")).toHaveText("Connected");

  // A member joins in another browser.
  const member = await (await browser.newContext()).newPage();
  await signUpAs(member, newEmail("keymember"));
  await inviteAndJoin(owner, member, "Key Studio");

  // On the team's wallet the member sees the team's key, and cannot change it.
  await member.goto("/settings/api-keys");
  await hydrated(member);
  await member.getByTestId("wallet-switcher").selectOption({ label: "Team: Key Studio" });
  await hydrated(member);
  await expect(member.getByTestId("team-keys-note")).toContainText("Only the team's owners and admins can change them.");
  const seen = member.locator("[data-provider=fal]");
  await expect(seen.getByTestId("key-status")).toHaveText("Connected");
  await expect(seen.getByTestId("key-last4")).toHaveText("••••5e21");
  await expect(member.getByRole("button", { name: "Save key" })).toHaveCount(0);
  await expect(member.getByRole("link", { name: /Connect with OpenRouter/ })).toHaveCount(0);
  await snapshot(member, "team-keys-member");

  // The team has no credits, yet the member's run goes through on the team's key.
  await member.goto("/studio");
  await hydrated(member);
  await expect(member.getByTestId("header-balance")).toHaveText("$0.00");
  await member.getByLabel("Prompt").fill("a fox on the team's key");
  await member.getByRole("button", { name: "Generate" }).click();
  await expect(member.getByTestId("run-cost")).toContainText("no credits used");
  await expect(member.getByRole("img", { name: /Generated image/ }).first()).toBeVisible();

  // On their own wallet the member's keys page is their own: no team note, no key.
  await member.getByTestId("wallet-switcher").selectOption({ label: "Personal" });
  await expect(member.getByTestId("header-balance")).toHaveText("$5.00");
  await member.goto("/settings/api-keys");
  await hydrated(member);
  await expect(member.getByTestId("team-keys-note")).toHaveCount(0);
  await expect(member.locator("[data-provider=fal]").getByTestId("key-status")).toHaveText("Not set");
});
