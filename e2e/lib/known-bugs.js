'use strict';
// App bugs the harness knows about and does not fail on (yet). Each entry is printed on every
// run as "# KNOWN APP BUG". Delete the entry when the app is fixed; E2E_STRICT=1 ignores
// this list so the bugs fail the run.

module.exports = {
  // axe violations: rule id + CSS target (as axe prints it) + optionally the page's path.
  axe: [
    {
      rule: 'color-contrast',
      target: '.switcher > .menu > .menu__heading',
      note: 'static/app.css .menu__heading: the "Personal account" / "Teams" group headings in the '
        + 'open switcher menu are #8b8b93 on #ffffff at 11px: 3.38:1, needs 4.5:1 (WCAG 1.4.3, AA).',
    },
    {
      rule: 'color-contrast',
      target: '.user-menu > .menu > .menu__heading',
      note: 'static/app.css .menu__heading: the email heading in the open user menu, same colours '
        + 'as the switcher headings (WCAG 1.4.3, AA).',
    },
    {
      rule: 'color-contrast',
      target: '.error-page__code',
      note: 'templates/errors/page.html + static/app.css .error-page__code: the big status code '
        + '("404") is #d4d4d8 on #fafafa: 1.41:1, needs 3:1 even at 72px (WCAG 1.4.3, AA).',
    },
    {
      rule: 'link-in-text-block',
      target: 'a',
      path: /^\/(login|signup)$/,
      note: 'static/app.css `a { text-decoration: none }`: the "Create one" / "Sign in" link in '
        + '<p class="auth__alt"> under the sign-in and sign-up cards is told from the muted text '
        + 'around it by colour alone (contrast between them ~1.05:1, needs 3:1 or an underline; '
        + 'WCAG 1.4.1 Use of Color, level A).',
    },
    {
      rule: 'label-content-name-mismatch',
      target: '.switcher__button',
      note: 'templates/partials/switcher.html: the switcher <summary> shows the account name and '
        + 'role but its aria-label is "Switch account", so its accessible name does not contain '
        + 'its visible text (WCAG 2.5.3 Label in Name, level A).',
    },
  ],
};
