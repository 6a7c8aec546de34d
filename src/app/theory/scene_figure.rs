//! What a theory scene's view holds for its figure: the computation running
//! off the UI thread, the latest result, its [`Figure`] laid out once per
//! result (never per frame), and the textures of its images.

use super::SceneContext;
use super::job::Computation;
use super::view::Textures;
use crate::figures::{self, Figure, Inputs};
use crate::jobs::JobContext;

/// A scene's computed figure.
pub struct SceneFigure<R> {
    context: SceneContext,
    computation: Computation<R>,
    lay_out: fn(&R) -> Figure,
    figure: Option<Figure>,
    /// One per row of panels drawn with [`super::view::panels_ui`] (a row's
    /// backdrops are cached by their place in it).
    textures: Vec<Textures>,
}

impl<R: Send + 'static> SceneFigure<R> {
    /// Nothing computed yet; `lay_out` turns a result into its figure, and
    /// the figure is drawn in `rows` rows.
    #[must_use]
    pub fn new(context: &SceneContext, lay_out: fn(&R) -> Figure, rows: usize) -> Self {
        Self {
            context: context.clone(),
            computation: Computation::default(),
            lay_out,
            figure: None,
            textures: (0..rows.max(1)).map(|_| Textures::default()).collect(),
        }
    }

    /// Cancels the running computation and starts `work` on the shared inputs.
    pub fn restart(&mut self, work: impl FnOnce(&Inputs, &JobContext) -> figures::Result<R> + Send + 'static) {
        let inputs = self.context.inputs.clone();
        self.computation.restart(&self.context.repaint, move |job| {
            work(&inputs, job).map_err(String::from)
        });
    }

    /// Takes a finished result and lays out its figure; call once per frame.
    /// True when a new result arrived.
    pub fn poll(&mut self) -> bool {
        let arrived = self.computation.poll();
        if arrived {
            self.figure = self.computation.value().map(self.lay_out);
            self.textures.iter_mut().for_each(Textures::clear);
        }
        arrived
    }

    /// Lays the latest result out again with `lay_out`, for a control that
    /// changes only what is drawn of it (the level shown), not the result.
    pub fn lay_out_with(&mut self, lay_out: impl FnOnce(&R) -> Figure) {
        self.figure = self.computation.value().map(lay_out);
        self.textures.iter_mut().for_each(Textures::clear);
    }

    /// The latest result.
    #[must_use]
    pub fn value(&self) -> Option<&R> {
        self.computation.value()
    }

    /// The latest result's figure.
    #[must_use]
    pub fn figure(&self) -> Option<&Figure> {
        self.figure.as_ref()
    }

    /// The figure and the textures, to draw.
    pub fn parts(&mut self) -> Option<(&Figure, &mut [Textures])> {
        let figure = self.figure.as_ref()?;
        Some((figure, &mut self.textures))
    }

    /// "computing…" with its progress, or the failure, in one line.
    pub fn status_ui(&self, ui: &mut egui::Ui) {
        self.computation.status_ui(ui);
    }
}
