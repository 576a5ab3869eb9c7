//! The web app's pages as the browser and the server render them: the document shell and
//! routes, shared context, pages and the components they share.

pub mod app;
pub mod components;
pub mod context;
pub mod live;
pub mod pages;
