/** htm bound to preact's `h`: components are tagged templates, so the dashboard needs no JSX build. */
import { h } from "preact";
import htm from "htm";

export const html = htm.bind(h);
