//! The forward process on an image, computed per pixel in `shaders/forward_image.wgsl`.
//!
//! The image x0 and one noise field ε live in two textures, uploaded only when
//! the image or the seed changes; a frame sends only ᾱ_t and what to show.

use bytemuck::{Pod, Zeroable};
use egui_wgpu::wgpu;

use super::{uniform_buffer, uniform_entry};

/// What the image view shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Quantity {
    /// The noised image x_t.
    #[default]
    Noised,
    /// The clean image x0.
    Clean,
    /// The noise ε (diverging colours).
    Noise,
    /// The score of q(x_t | x0), −ε/√(1 − ᾱ_t), shown in units of its std.
    Score,
    /// v = √ᾱ ε − √(1 − ᾱ) x0.
    Velocity,
}

impl Quantity {
    /// Every quantity, in toggle order, with its label.
    pub const ALL: [(Self, &'static str); 5] = [
        (Self::Noised, "x_t"),
        (Self::Clean, "x0"),
        (Self::Noise, "ε"),
        (Self::Score, "score"),
        (Self::Velocity, "v"),
    ];

    /// The shaders' code for this quantity.
    pub(crate) fn code(self) -> u32 {
        match self {
            Self::Noised => 0,
            Self::Clean => 1,
            Self::Noise => 2,
            Self::Score => 3,
            Self::Velocity => 4,
        }
    }
}

#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct Params {
    alpha_bar: f32,
    quantity: u32,
    pad: [f32; 2],
}

/// How many image views can show at once (one per compared schedule).
pub const MAX_VIEWS: usize = 4;

/// One frame's image view: small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageCallback {
    /// Which of the [`MAX_VIEWS`] uniform slots this view uses.
    pub slot: usize,
    /// ᾱ_t to noise with.
    pub alpha_bar: f32,
    /// What to show.
    pub quantity: Quantity,
}

/// An image as RGBA f32 in [0, 1], row-major, with its noise.
pub struct ImageData<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RGBA in [0, 1], `width × height × 4` values.
    pub rgba: &'a [f32],
    /// ε, `width × height × 4` values.
    pub noise: &'a [f32],
}

/// The pipeline and the two textures, kept in `callback_resources`.
pub struct ImageResources {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    /// One uniform buffer per view, so views in one frame do not overwrite each other.
    params: Vec<wgpu::Buffer>,
    bind_groups: Vec<wgpu::BindGroup>,
    noise: Option<wgpu::Texture>,
}

impl ImageResources {
    /// Builds the pipeline once, for the window's surface format.
    #[must_use]
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let texture_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let (pipeline, layout) = super::fullscreen_pipeline(
            device,
            target_format,
            include_str!("../../shaders/forward_image.wgsl"),
            "image_fs",
            &[
                uniform_entry(0, wgpu::ShaderStages::FRAGMENT),
                texture_entry(1),
                texture_entry(2),
            ],
            None,
        );
        let params = (0..MAX_VIEWS)
            .map(|_| uniform_buffer(device, "forward image params", std::mem::size_of::<Params>()))
            .collect();
        Self {
            pipeline,
            layout,
            params,
            bind_groups: Vec::new(),
            noise: None,
        }
    }

    /// The bytes the image and its noise hold (two RGBA f32 textures).
    #[must_use]
    pub fn texture_bytes(&self) -> u64 {
        self.noise
            .as_ref()
            .map_or(0, |t| 2 * u64::from(t.width()) * u64::from(t.height()) * 16)
    }

    /// Uploads a new image and its noise (call only when either changed).
    pub fn set_image(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, image: &ImageData<'_>) {
        let x0 = float_texture(device, queue, "x0", image.width, image.height, image.rgba);
        let noise = float_texture(device, queue, "noise", image.width, image.height, image.noise);
        let x0_view = x0.create_view(&wgpu::TextureViewDescriptor::default());
        let noise_view = noise.create_view(&wgpu::TextureViewDescriptor::default());
        self.bind_groups = self
            .params
            .iter()
            .map(|params| {
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("forward image"),
                    layout: &self.layout,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: params.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: wgpu::BindingResource::TextureView(&x0_view),
                        },
                        wgpu::BindGroupEntry {
                            binding: 2,
                            resource: wgpu::BindingResource::TextureView(&noise_view),
                        },
                    ],
                })
            })
            .collect();
        self.noise = Some(noise);
    }

    /// Replaces the noise field only (the Markov chain's effective ε at a new t);
    /// ignored unless `noise` matches the current image's size.
    pub fn set_noise(&self, queue: &wgpu::Queue, noise: &[f32]) {
        if let Some(texture) = &self.noise
            && noise.len() == (texture.width() * texture.height() * 4) as usize
        {
            write_floats(queue, texture, noise);
        }
    }
}

/// Writes RGBA f32 values over a whole texture.
fn write_floats(queue: &wgpu::Queue, texture: &wgpu::Texture, values: &[f32]) {
    queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        bytemuck::cast_slice(values),
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(texture.width() * 16),
            rows_per_image: Some(texture.height()),
        },
        texture.size(),
    );
}

fn float_texture(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    label: &str,
    width: u32,
    height: u32,
    values: &[f32],
) -> wgpu::Texture {
    let size = wgpu::Extent3d {
        width,
        height,
        depth_or_array_layers: 1,
    };
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    write_floats(queue, &texture, values);
    texture
}

impl egui_wgpu::CallbackTrait for ImageCallback {
    fn prepare(
        &self,
        _device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        match resources.get::<ImageResources>() {
            Some(image) => {
                let params = Params {
                    alpha_bar: self.alpha_bar,
                    quantity: self.quantity.code(),
                    pad: [0.0; 2],
                };
                if let Some(buffer) = image.params.get(self.slot) {
                    queue.write_buffer(buffer, 0, bytemuck::bytes_of(&params));
                }
            }
            None => super::log_missing_once("ImageResources"),
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(image) = resources.get::<ImageResources>()
            && let Some(bind_group) = image.bind_groups.get(self.slot)
        {
            pass.set_pipeline(&image.pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
    }
}
