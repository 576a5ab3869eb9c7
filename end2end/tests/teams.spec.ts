import { dismissOnboarding, expect, hydrated, newEmail, signUpAs, test } from "./fixtures";

test("make a team, invite someone by link, and they join in their own browser", async ({ browser }) => {
  const owner = await (await browser.newContext()).newPage();
  await signUpAs(owner, newEmail("owner"));
  await owner.goto("/settings/teams");
  await hydrated(owner);
  await expect(owner.getByTestId("no-teams")).toBeVisible();
  await owner.getByLabel("New team name").fill("Night Studio");
  await owner.getByRole("button", { name: "Create team" }).click();
  await expect(owner.getByTestId("teams")).toContainText("Night Studio");
  await owner.getByRole("link", { name: "Invite people" }).click();
  await expect(owner.getByTestId("members")).toContainText("(you)");
  await owner.getByRole("button", { name: "Make invitation link" }).click();
  const link = (await owner.getByTestId("invite-link").textContent())!.trim();
  expect(link).toContain("/teams/join?code=");
  await expect(owner.getByTestId("invites")).toContainText("Member");

  // The invited person opens the link in another browser, signs up from there, and joins.
  const guestEmail = newEmail("guest");
  const guest = await (await browser.newContext()).newPage();
  await guest.goto(link);
  await hydrated(guest);
  await guest.getByRole("main").getByRole("link", { name: "Sign up" }).click();
  await hydrated(guest);
  await guest.getByLabel("Email").fill(guestEmail);
  await guest.getByLabel("Password").fill("a long enough password");
  await guest.getByRole("button", { name: "Create account" }).click();
  await expect(guest).toHaveURL(/\/teams\/join\?code=/);
  await dismissOnboarding(guest);
  await guest.getByRole("button", { name: "Join team" }).click();
  await expect(guest.getByRole("status")).toContainText("You joined Night Studio as member.");

  // The link worked once.
  const third = await (await browser.newContext()).newPage();
  await signUpAs(third, newEmail("third"));
  await third.goto(link);
  await hydrated(third);
  await third.getByRole("button", { name: "Join team" }).click();
  await expect(third.getByText("This invitation is not valid")).toBeVisible();

  // The owner sees the new member, makes them an admin, then removes them.
  await owner.reload();
  await hydrated(owner);
  await expect(owner.getByTestId("members")).toContainText(guestEmail);
  await owner.getByLabel(`Role of ${guestEmail}`).selectOption("admin");
  await owner.getByRole("row", { name: new RegExp(guestEmail) }).getByRole("button", { name: "Save" }).click();
  await expect(owner.getByLabel(`Role of ${guestEmail}`)).toHaveValue("admin");
  await owner.getByRole("button", { name: `Remove ${guestEmail}` }).click();
  await expect(owner.getByTestId("members")).not.toContainText(guestEmail);

  // The last owner is told why they cannot leave.
  await owner.getByRole("button", { name: "Leave the team" }).click();
  await expect(owner.getByText("You are the team's last owner")).toBeVisible();
});
